/*  Unit tests of nws_log: the record format and level filtering. Each
    case points stderr at a temporary file and reads back what was written.  */
#include "nws_log.h"
#include "nws_unit.h"

#include <regex.h>

static FILE *s_capture;             /* where stderr now goes */
static int s_saved_stderr = -1;     /* the original stderr */

static void
s_capture_start (void)
{
    s_capture = tmpfile ();
    CHECK (s_capture);
    fflush (stderr);
    s_saved_stderr = dup (STDERR_FILENO);
    CHECK (s_saved_stderr >= 0);
    CHECK (dup2 (fileno (s_capture), STDERR_FILENO) >= 0);
}

//  Restores stderr and returns what was written (free it).
static char *
s_capture_end (void)
{
    fflush (stderr);
    CHECK (dup2 (s_saved_stderr, STDERR_FILENO) >= 0);
    close (s_saved_stderr);
    //  the records went through the descriptor, not this FILE: measure the file
    CHECK (fseek (s_capture, 0, SEEK_END) == 0);
    long size = ftell (s_capture);
    CHECK (size >= 0);
    char *text = malloc ((size_t) size + 1);
    CHECK (text);
    rewind (s_capture);
    CHECK_INT (fread (text, 1, (size_t) size, s_capture), size);
    text [size] = '\0';
    fclose (s_capture);
    return text;
}

static void
s_check_line (const char *line, const char *program, const char *level, const char *message)
{
    char pattern [512];
    snprintf (pattern, sizeof pattern,
              "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
              "%s\\[%d\\] %s: %s$", program, (int) getpid (), level, message);
    regex_t re;
    CHECK_INT (regcomp (&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int rc = regexec (&re, line, 0, NULL, 0);
    regfree (&re);
    if (rc != 0)
        fprintf (stderr, "line '%s' does not match '%s'\n", line, pattern);
    CHECK_INT (rc, 0);
}

//  Splits text into lines (in place); returns how many.
static int
s_lines (char *text, char **lines, int max)
{
    int count = 0;
    for (char *p = text; *p; ) {
        char *nl = strchr (p, '\n');
        CHECK (nl);                     //  every record ends with a newline
        *nl = '\0';
        CHECK (count < max);
        lines [count++] = p;
        p = nl + 1;
    }
    return count;
}

static void
record_format (void)
{
    nws_log_init ("nws-test", NWS_LOG_DEBUG);
    s_capture_start ();
    nws_error ("error %d", 1);
    nws_warn ("warn %s", "two");
    nws_info ("info");
    nws_debug ("debug channel=%s", "local/chat");
    char *text = s_capture_end (), *lines [8];
    CHECK_INT (s_lines (text, lines, 8), 4);
    s_check_line (lines [0], "nws-test", "error", "error 1");
    s_check_line (lines [1], "nws-test", "warn", "warn two");
    s_check_line (lines [2], "nws-test", "info", "info");
    s_check_line (lines [3], "nws-test", "debug", "debug channel=local/chat");
    free (text);
}

//  Before nws_log_init: program "nws", level info.
static void
defaults (void)
{
    s_capture_start ();
    nws_info ("shown");
    nws_debug ("hidden");
    char *text = s_capture_end (), *lines [4];
    CHECK_INT (s_lines (text, lines, 4), 1);
    s_check_line (lines [0], "nws", "info", "shown");
    free (text);
}

static void
level_filter (void)
{
    nws_log_init ("prog", NWS_LOG_WARN);
    s_capture_start ();
    nws_debug ("no");
    nws_info ("no");
    nws_warn ("yes 1");
    nws_error ("yes 2");
    char *text = s_capture_end (), *lines [4];
    CHECK_INT (s_lines (text, lines, 4), 2);
    s_check_line (lines [0], "prog", "warn", "yes 1");
    s_check_line (lines [1], "prog", "error", "yes 2");
    free (text);

    nws_log_init ("prog", NWS_LOG_ERROR);
    s_capture_start ();
    nws_warn ("no");
    nws_error ("only");
    text = s_capture_end ();
    CHECK_INT (s_lines (text, lines, 4), 1);
    s_check_line (lines [0], "prog", "error", "only");
    free (text);
}

//  A message longer than the record buffer is cut, still one line.
static void
long_message (void)
{
    char big [4000];
    memset (big, 'x', sizeof big - 1);
    big [sizeof big - 1] = '\0';
    nws_log_init ("prog", NWS_LOG_INFO);
    s_capture_start ();
    nws_info ("%s", big);
    nws_info ("after");
    char *text = s_capture_end (), *lines [4];
    CHECK_INT (s_lines (text, lines, 4), 2);
    CHECK (strlen (lines [0]) < 1024);
    s_check_line (lines [0], "prog", "info", "x+");
    s_check_line (lines [1], "prog", "info", "after");
    free (text);
}

int
main (int argc, char **argv)
{
    static const nws_unit_case_t cases [] = {
        NWS_UNIT_CASE (record_format),
        NWS_UNIT_CASE (defaults),
        NWS_UNIT_CASE (level_filter),
        NWS_UNIT_CASE (long_message),
        { NULL, NULL }
    };
    return nws_unit_run (cases, argc, argv);
}
