/*  nws_process - what the main() of every nws program does alike: the
    command line, and stopping on SIGINT/SIGTERM.  */
#ifndef NWS_PROCESS_H
#define NWS_PROCESS_H

#include <signal.h>

#include "nws_opts.h"

/*  Parses argv with opts; prints --help (usage and summary) or --version
    on stdout, or a usage error on stderr. Returns -1 when the program
    should go on, else its exit status (0 after --help or --version, 2
    after an error).  */
int nws_process_options (const nws_opt_t *opts, int argc, char **argv,
                         const char *program, const char *summary);

/*  Sets *stop when SIGINT or SIGTERM arrives (without SA_RESTART, so a
    blocking poll returns), and ignores SIGPIPE. Call once.  */
void nws_process_stop_on_signals (volatile sig_atomic_t *stop);

/*  Raises the soft limit on open files to the hard limit (a server's
    clients each take one). Returns the limit now in force.  */
unsigned long nws_process_raise_files (void);

#endif
