/*  nws_text - a growable text buffer.  */
#include "nws_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void
nws_text_printf (nws_text_t *text, const char *format, ...)
{
    for (int attempt = 0; attempt < 2 && !text->failed; attempt++) {
        size_t room = text->cap - text->len;
        va_list args;
        va_start (args, format);
        int n = text->data
              ? vsnprintf (text->data + NWS_TEXT_HEADROOM + text->len, room + 1, format, args)
              : vsnprintf (NULL, 0, format, args);
        va_end (args);
        if (n < 0) {
            text->failed = 1;
            return;
        }
        if (text->data && (size_t) n <= room) {
            text->len += (size_t) n;
            return;
        }
        size_t cap = text->cap * 2 > text->len + (size_t) n ? text->cap * 2
                   : text->len + (size_t) n + 256;
        char *data = realloc (text->data, NWS_TEXT_HEADROOM + cap + 1);
        if (!data) {
            text->failed = 1;
            return;
        }
        text->data = data;
        text->cap = cap;
    }
}

const char *
nws_text_str (const nws_text_t *text)
{
    return text->data ? text->data + NWS_TEXT_HEADROOM : "";
}

void
nws_text_free (nws_text_t *text)
{
    free (text->data);
    *text = (nws_text_t) { 0 };
}

