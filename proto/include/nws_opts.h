/*  nws_opts - command-line options from a table.

    Each program describes its options once, as an array of nws_opt_t
    ending with a zeroed entry; nws_opts_parse() fills the targets and
    nws_opts_usage() prints --help from the same table. Accepts
    "--name value" and "--name=value". Numbers are decimal; sizes take a
    K, M or G suffix (powers of 1024). Every value is range-checked.
*/
#ifndef NWS_OPTS_H
#define NWS_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    NWS_OPT_FLAG,                   /* target int, set to 1 */
    NWS_OPT_STRING,                 /* target const char *, points into argv */
    NWS_OPT_UINT,                   /* target uint64_t, min..max */
    NWS_OPT_SIZE,                   /* target uint64_t, min..max, K/M/G suffix */
    NWS_OPT_LIST                    /* target nws_opt_list_t, appends */
} nws_opt_type_t;

#define NWS_OPT_LIST_MAX 16

typedef struct {
    const char *items [NWS_OPT_LIST_MAX];  /* point into argv */
    int count;                      /* items used */
} nws_opt_list_t;

typedef struct {
    const char *name;               /* long name without "--"; NULL ends the table */
    nws_opt_type_t type;            /* how to read the value */
    void *target;                   /* where the value goes */
    uint64_t min, max;              /* bounds for UINT and SIZE */
    const char *metavar;            /* value placeholder in --help */
    const char *help;               /* one line for --help */
} nws_opt_t;

#define NWS_OPTS_HELP 1             /* nws_opts_parse saw --help */
#define NWS_OPTS_VERSION 2          /* nws_opts_parse saw --version */

/*  Parses argv[1..argc-1]. Returns 0, NWS_OPTS_HELP or NWS_OPTS_VERSION,
    or -EINVAL with a precise message in err (unknown option, missing or
    malformed value, value out of range, stray argument).  */
int nws_opts_parse (const nws_opt_t *opts, int argc, char **argv,
                    char *err, size_t errlen);

/*  Prints usage for the table to out.  */
void nws_opts_usage (FILE *out, const char *program, const char *summary,
                     const nws_opt_t *opts);

/*  Parses a number with an optional K/M/G suffix when sized. Returns 0 or
    -EINVAL (not a number, trailing junk, overflow).  */
int nws_opts_parse_number (const char *s, int sized, uint64_t *out);

#endif
