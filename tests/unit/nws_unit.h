/*  nws_unit - the small harness shared by the proto unit tests.

    A test program is a table of cases; nws_unit_run() runs each case in
    its own forked process, under an alarm, and counts the file
    descriptors open before and after it, so that a crash, a hang or a
    leaked descriptor fails that case alone and names it. "test_x NAME"
    runs only the case NAME.

    CHECK* print file:line and exit non-zero. They are plain code, not
    assert(), so they hold under NDEBUG (the default RelWithDebInfo build
    defines it). A case passes by returning; exit() (not _exit) ends the
    child so LeakSanitizer runs in a NWS_SANITIZE build.
*/
#ifndef NWS_UNIT_H
#define NWS_UNIT_H

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define NWS_UNIT_CASE_SECS 10       /* per case; ctest's TIMEOUT is the backstop */

#define CHECK(cond) do { \
    if (!(cond)) { \
        fprintf (stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        exit (1); \
    } \
} while (0)

//  Integers, compared as intmax_t, printed on failure.
#define CHECK_INT(a, b) do { \
    intmax_t a_ = (intmax_t) (a), b_ = (intmax_t) (b); \
    if (a_ != b_) { \
        fprintf (stderr, "%s:%d: CHECK failed: %s == %s (%jd != %jd)\n", \
                 __FILE__, __LINE__, #a, #b, a_, b_); \
        exit (1); \
    } \
} while (0)

//  Unsigned 64-bit values, printed in hex on failure.
#define CHECK_U64(a, b) do { \
    uint64_t a_ = (uint64_t) (a), b_ = (uint64_t) (b); \
    if (a_ != b_) { \
        fprintf (stderr, "%s:%d: CHECK failed: %s == %s (0x%" PRIx64 " != 0x%" PRIx64 ")\n", \
                 __FILE__, __LINE__, #a, #b, a_, b_); \
        exit (1); \
    } \
} while (0)

//  NUL-terminated strings; a NULL is printed as (null).
#define CHECK_STR(a, b) do { \
    const char *a_ = (a), *b_ = (b); \
    if (!a_ || !b_ || strcmp (a_, b_) != 0) { \
        fprintf (stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" != \"%s\")\n", \
                 __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
        exit (1); \
    } \
} while (0)

//  haystack contains needle.
#define CHECK_HAS(haystack, needle) do { \
    const char *h_ = (haystack), *n_ = (needle); \
    if (!h_ || !strstr (h_, n_)) { \
        fprintf (stderr, "%s:%d: CHECK failed: \"%s\" contains \"%s\"\n", \
                 __FILE__, __LINE__, h_ ? h_ : "(null)", n_); \
        exit (1); \
    } \
} while (0)

//  len bytes at a equal len bytes at b.
#define CHECK_MEM(a, b, len) do { \
    if (memcmp ((a), (b), (len)) != 0) { \
        fprintf (stderr, "%s:%d: CHECK failed: %s equals %s (%zu bytes)\n", \
                 __FILE__, __LINE__, #a, #b, (size_t) (len)); \
        exit (1); \
    } \
} while (0)

typedef struct {
    const char *name;               /* case name, for the report and argv[1] */
    void (*fn) (void);              /* the case; returns to pass */
} nws_unit_case_t;

#define NWS_UNIT_CASE(fn) { #fn, fn }

//  Open file descriptors of this process, or -1.
static int
nws_unit_fd_count (void)
{
    DIR *dir = opendir ("/proc/self/fd");
    if (!dir)
        return -1;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)))
        if (entry->d_name [0] != '.')
            count++;
    closedir (dir);
    return count;
}

//  Runs every case of the NULL-terminated table (or only argv[1]), each
//  in a child process. Returns 0 if all passed, else 1 (2: no such case).
static int
nws_unit_run (const nws_unit_case_t *cases, int argc, char **argv)
{
    int ran = 0, failed = 0;
    for (const nws_unit_case_t *c = cases; c->name; c++) {
        if (argc > 1 && strcmp (argv [1], c->name) != 0)
            continue;
        ran++;
        fflush (stdout);
        fflush (stderr);
        pid_t pid = fork ();
        if (pid < 0) {
            perror ("fork");
            return 1;
        }
        if (pid == 0) {
            alarm (NWS_UNIT_CASE_SECS);
            int before = nws_unit_fd_count ();
            c->fn ();
            int after = nws_unit_fd_count ();
            if (before < 0 || after != before) {
                fprintf (stderr, "%s: %d file descriptors open before, %d after\n",
                         c->name, before, after);
                exit (1);
            }
            exit (0);
        }
        int status;
        while (waitpid (pid, &status, 0) < 0)
            if (errno != EINTR) {
                perror ("waitpid");
                return 1;
            }
        if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
            printf ("ok   %s\n", c->name);
        else {
            failed++;
            if (WIFSIGNALED (status))
                printf ("FAIL %s (signal %d%s)\n", c->name, WTERMSIG (status),
                        WTERMSIG (status) == SIGALRM ? ", timed out" : "");
            else
                printf ("FAIL %s (exit %d)\n", c->name, WEXITSTATUS (status));
        }
    }
    if (ran == 0) {
        fprintf (stderr, "no case named '%s'\n", argc > 1 ? argv [1] : "");
        return 2;
    }
    printf ("%d of %d cases failed\n", failed, ran);
    return failed ? 1 : 0;
}

static int __attribute__ ((unused))
nws_unit_remove_ (const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void) st, (void) type, (void) ftw;
    return remove (path);
}

//  nws_unit_run for cases that make files: first makes a directory of
//  their own (under $TMPDIR or /tmp) and writes its path into base (cap
//  bytes; 64 is enough). Every case must remove what it made: anything
//  left there fails the run. The directory is removed at the end.
static int __attribute__ ((unused))
nws_unit_run_in_dir (const nws_unit_case_t *cases, int argc, char **argv, char *base,
                     size_t cap)
{
    const char *tmp = getenv ("TMPDIR");
    snprintf (base, cap, "%s/nws-unit-XXXXXX", tmp && *tmp && strlen (tmp) < 32 ? tmp : "/tmp");
    if (!mkdtemp (base)) {
        perror ("mkdtemp");
        return 1;
    }
    int rc = nws_unit_run (cases, argc, argv);
    DIR *dir = opendir (base);
    int leftovers = 0;
    struct dirent *entry;
    while (dir && (entry = readdir (dir)))
        if (strcmp (entry->d_name, ".") && strcmp (entry->d_name, ".."))
            leftovers++;
    if (dir)
        closedir (dir);
    if (leftovers) {
        fprintf (stderr, "%d entries left in %s\n", leftovers, base);
        if (rc == 0)
            rc = 1;
    }
    if (nftw (base, nws_unit_remove_, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        perror ("removing the test directory");
        rc = 1;
    }
    return rc;
}

#endif
