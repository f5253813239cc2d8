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

/*  Frees the buffer.  */
void nws_text_free (nws_text_t *text);

#endif
