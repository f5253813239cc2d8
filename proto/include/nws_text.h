/*  nws_text - a growable text buffer with LWS_PRE bytes of headroom, for
    building HTTP bodies and JSON documents with printf.  */
#ifndef NWS_TEXT_H
#define NWS_TEXT_H

#include <stddef.h>

#define NWS_TEXT_HEADROOM 16        /* LWS_PRE in Debian's lws 4.1; checked where lws is used */

typedef struct {
    char *data;                     /* NWS_TEXT_HEADROOM bytes, then text */
    size_t len;                     /* text bytes */
    size_t cap;                     /* text bytes allocated */
    int failed;                     /* an append ran out of memory */
} nws_text_t;

/*  Appends formatted text; on failure sets failed and leaves text as is.  */
void nws_text_printf (nws_text_t *text, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

/*  The text, NUL-terminated ("" when empty).  */
const char *nws_text_str (const nws_text_t *text);

/*  Appends s as a JSON string: quotes, and escapes for '"', '\\' and
    control characters (other bytes go as they are).  */
void nws_text_json_string (nws_text_t *text, const char *s);

/*  Writes the text to path through path.tmp (mode 0600) and a rename, so a
    reader sees the old file or the new one, never a part. Returns 0, or a
    negative errno with *step naming what failed ("format" when an append
    had failed).  */
int nws_text_write_file (const nws_text_t *text, const char *path, const char **step);

/*  Frees the buffer.  */
void nws_text_free (nws_text_t *text);

#endif
