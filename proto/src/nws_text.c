/*  nws_text - a growable text buffer.  */
#include "nws_text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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


void
nws_text_json_string (nws_text_t *text, const char *s)
{
    nws_text_printf (text, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;
        if (c == '"' || c == '\\')
            nws_text_printf (text, "\\%c", c);
        else
        if (c < 0x20)
            nws_text_printf (text, "\\u%04x", c);
        else
            nws_text_printf (text, "%c", c);
    }
    nws_text_printf (text, "\"");
}

int
nws_text_write_file (const nws_text_t *text, const char *path, const char **step)
{
    char tmp [4096];
    *step = "format";
    if (text->failed)
        return -ENOMEM;
    if (snprintf (tmp, sizeof tmp, "%s.tmp", path) >= (int) sizeof tmp)
        return -ENAMETOOLONG;
    *step = "open";
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = 0;
    *step = "write";
    if (write (fd, nws_text_str (text), text->len) != (ssize_t) text->len)
        rc = errno ? -errno : -EIO;
    if (close (fd) < 0 && !rc) {
        rc = -errno;
        *step = "close";
    }
    if (!rc && rename (tmp, path) < 0) {
        rc = -errno;
        *step = "rename";
    }
    if (rc)
        unlink (tmp);
    return rc;
}
