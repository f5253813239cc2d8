/*  nws_log - one-line log records on stderr.  */
#include "nws_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *s_program = "nws";
static nws_log_level_t s_level = NWS_LOG_INFO;
static const char *s_level_names [] = { "error", "warn", "info", "debug" };

void
nws_log_init (const char *program, nws_log_level_t level)
{
    s_program = program;
    s_level = level;
}

void
nws_log (nws_log_level_t level, const char *format, ...)
{
    if (level > s_level)
        return;
    struct timeval now;
    struct tm tm;
    gettimeofday (&now, NULL);
    gmtime_r (&now.tv_sec, &tm);
    char line [1024];
    int n = snprintf (line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: ",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                      tm.tm_min, tm.tm_sec, (long) now.tv_usec / 1000, s_program,
                      (int) getpid (), s_level_names [level]);
    va_list args;
    va_start (args, format);
    if (n > 0 && (size_t) n < sizeof line)
        vsnprintf (line + n, sizeof line - (size_t) n, format, args);
    va_end (args);
    //  One fprintf per record, so records of several processes sharing
    //  stderr do not interleave mid-line.
    fprintf (stderr, "%s\n", line);
}

void
nws_log_lws (int level, const char *line)
{
    size_t len = strlen (line);
    while (len && line [len - 1] == '\n')
        len--;
    //  1 is LLL_ERR; proto does not depend on lws's headers. lws 4.1 logs
    //  every adoption of a socket with bytes already read as an error:
    //  that is how every gateway connection starts, nothing is wrong.
    int routine = strstr (line, "adopt_socket_readbuf: calling service") != NULL;
    nws_log (level == 1 && !routine ? NWS_LOG_WARN : NWS_LOG_DEBUG, "lws: %.*s", (int) len, line);
}

int
nws_log_rate (nws_log_rate_t *rate, int per_second)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    if ((long) now.tv_sec != rate->second) {
        rate->second = (long) now.tv_sec;
        rate->count = 0;
    }
    return rate->count++ < per_second;
}
