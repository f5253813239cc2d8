/*  nws_process - what the main() of every nws program does alike.  */
#include "nws_process.h"

#include <limits.h>
#include <stdio.h>
#include <sys/resource.h>

#include "nws_limits.h"

static volatile sig_atomic_t *s_stop = NULL;

int
nws_process_options (const nws_opt_t *opts, int argc, char **argv,
                     const char *program, const char *summary)
{
    char err [256];
    int rc = nws_opts_parse (opts, argc, argv, err, sizeof err);
    if (rc == NWS_OPTS_HELP) {
        nws_opts_usage (stdout, program, summary, opts);
        return 0;
    }
    if (rc == NWS_OPTS_VERSION) {
        printf ("%s %s\n", program, NWS_VERSION);
        return 0;
    }
    if (rc) {
        fprintf (stderr, "%s: %s\n", program, err);
        return 2;
    }
    return -1;
}

static void
s_on_signal (int sig)
{
    (void) sig;
    if (s_stop)
        *s_stop = 1;
}

void
nws_process_stop_on_signals (volatile sig_atomic_t *stop)
{
    s_stop = stop;
    struct sigaction action = { .sa_handler = s_on_signal };
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    signal (SIGPIPE, SIG_IGN);
}

unsigned long
nws_process_raise_files (void)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) < 0)
        return 1024;
    if (limit.rlim_cur < limit.rlim_max) {
        rlim_t soft = limit.rlim_cur;
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit (RLIMIT_NOFILE, &limit) < 0)
            limit.rlim_cur = soft;
    }
    return limit.rlim_cur == RLIM_INFINITY ? ULONG_MAX : (unsigned long) limit.rlim_cur;
}
