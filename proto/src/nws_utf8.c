/*  nws_utf8 - UTF-8 validation (Unicode 15, table 3-7).  */
#include "nws_utf8.h"

#include <stdint.h>
#include <string.h>

size_t
nws_utf8_scan (const void *data, size_t len, int *bad)
{
    const uint8_t *start = data, *p = start, *end = p + len;
    *bad = 0;
    while (p < end) {
        //  ASCII runs are the common case: skip 8 bytes at a time.
        if (end - p >= 8) {
            uint64_t chunk;
            memcpy (&chunk, p, 8);
            if ((chunk & 0x8080808080808080ULL) == 0) {
                p += 8;
                continue;
            }
        }
        uint8_t c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        int need;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else
        if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;          //  overlong
            if (c == 0xED)
                hi = 0x9F;          //  surrogates
        }
        else
        if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;          //  overlong
            if (c == 0xF4)
                hi = 0x8F;          //  above U+10FFFF
        }
        else
            break;
        //  A sequence cut short by the end is judged on what is there.
        int have = end - p - 1 < need ? (int) (end - p - 1) : need;
        if (have >= 1 && (p [1] < lo || p [1] > hi))
            break;
        int i = 2;
        while (i <= have && (p [i] & 0xC0) == 0x80)
            i++;
        if (i <= have)
            break;
        if (have < need)
            return (size_t) (p - start);
        p += need + 1;
    }
    *bad = p < end;
    return (size_t) (p - start);
}

int
nws_utf8_valid (const void *data, size_t len)
{
    int bad;
    return nws_utf8_scan (data, len, &bad) == len && !bad;
}
