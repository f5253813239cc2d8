/*  fuzz_head - the gateway's first look at a request head (nws_head_parse).

    Input: one byte choosing where the bytes are cut, then the bytes a
    client sends. Properties, from nws_head.h's words:

    - a verdict never changes with more bytes: whatever a prefix decided
      (a status, or an acceptable head of some length), the whole input
      decides the same, with the same reason and length;
    - an undecided input fits in max bytes;
    - an acceptable head starts with "GET " or "HEAD ", ends with its
      first blank line, holds no control byte but CR, LF and HTAB, has CR
      only before LF, and its query lies inside its request line;
    - a refusal has a reason, a status among those the header names, and
      an Allow header exactly with 405.
*/
#include "nws_head.h"
#include "nws_fuzz.h"

#define S_MAX 1024                  /* small, so that the limits are reached */

static void
s_check_accepted (const uint8_t *data, const nws_head_t *head)
{
    size_t n = head->length;
    FUZZ_CHECK (n >= 4 && memcmp (data + n - 4, "\r\n\r\n", 4) == 0);
    FUZZ_CHECK (memcmp (data, "GET ", 4) == 0 || memcmp (data, "HEAD ", 5) == 0);
    const uint8_t *blank = memmem (data, n, "\r\n\r\n", 4);
    FUZZ_CHECK (blank && (size_t) (blank - data) == n - 4);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = data [i];
        FUZZ_CHECK (c >= 0x20 || c == '\r' || c == '\n' || c == '\t');
        FUZZ_CHECK (c != 0x7f);
        if (c == '\r')
            FUZZ_CHECK (i + 1 < n && data [i + 1] == '\n');
        if (c == '\n')
            FUZZ_CHECK (i > 0 && data [i - 1] == '\r');
    }
    const uint8_t *eol = memchr (data, '\r', n);
    if (head->query_len) {
        FUZZ_CHECK (data [head->query_at] == '?');
        FUZZ_CHECK (head->query_at + head->query_len < (size_t) (eol - data));
    }
    else
        FUZZ_CHECK (head->query_at == 0);
}

static void
s_check_refused (const nws_head_t *head)
{
    static const int statuses [] = { 400, 404, 405, 414, 431, 505 };
    int known = 0;
    for (size_t i = 0; i < sizeof statuses / sizeof statuses [0]; i++)
        known |= head->status == statuses [i];
    FUZZ_CHECK (known);
    FUZZ_CHECK (head->why && *head->why);
    FUZZ_CHECK ((head->status == 405) == (head->allow != NULL));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t cut_at = data [0];
    data++, size--;
    if (size > S_MAX)
        size = S_MAX;
    //  Exactly size bytes on the heap: a read past them is an ASan report.
    uint8_t *copy = malloc (size ? size : 1);
    if (!copy)
        abort ();
    memcpy (copy, data, size);

    nws_head_t whole;
    int rc = nws_head_parse ((const char *) copy, size, S_MAX, &whole);
    FUZZ_CHECK (rc == 0 || rc == 1);
    if (rc == 1 && whole.status == 0)
        s_check_accepted (copy, &whole);
    if (rc == 1 && whole.status != 0)
        s_check_refused (&whole);
    if (rc == 0)
        FUZZ_CHECK (size < S_MAX);

    size_t cut = size ? cut_at * size / 256 : 0;
    nws_head_t part;
    if (nws_head_parse ((const char *) copy, cut, S_MAX, &part) == 1) {
        FUZZ_CHECK (rc == 1);
        FUZZ_CHECK (part.status == whole.status);
        FUZZ_CHECK (part.why == whole.why);
        FUZZ_CHECK (part.length == whole.length);
        FUZZ_CHECK (part.query_at == whole.query_at && part.query_len == whole.query_len);
    }
    free (copy);
    return 0;
}
