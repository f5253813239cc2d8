/*  nws_log - one-line log records on stderr.

    "2026-11-26T12:00:00.123Z nws-gateway[123] warn: <message>". Messages
    never contain payloads; channel names and peer addresses are fine.
    Process-global, set up once in main before any thread starts.
*/
#ifndef NWS_LOG_H
#define NWS_LOG_H

typedef enum {
    NWS_LOG_ERROR = 0,
    NWS_LOG_WARN = 1,
    NWS_LOG_INFO = 2,
    NWS_LOG_DEBUG = 3
} nws_log_level_t;

/*  Names the program in every record and sets the most verbose level shown.  */
void nws_log_init (const char *program, nws_log_level_t level);

/*  Writes one record if level is shown.  */
void nws_log (nws_log_level_t level, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

/*  A log emitter for libwebsockets (lws_set_log_level's second argument):
    lws errors become warnings, everything else debug records.  */
void nws_log_lws (int level, const char *line);

/*  A budget of records per second, for lines a stranger can trigger at
    will (refusals): start it zeroed.  */
typedef struct {
    long second;                    /* the monotonic second counted */
    int count;                      /* records allowed in it */
} nws_log_rate_t;

#define NWS_LOG_REFUSALS_PER_SEC 10 /* the budget of every refusal's log line */

/*  1 if one more record fits rate's budget of per_second, else 0.  */
int nws_log_rate (nws_log_rate_t *rate, int per_second);

#define nws_error(...) nws_log (NWS_LOG_ERROR, __VA_ARGS__)
#define nws_warn(...)  nws_log (NWS_LOG_WARN, __VA_ARGS__)
#define nws_info(...)  nws_log (NWS_LOG_INFO, __VA_ARGS__)
#define nws_debug(...) nws_log (NWS_LOG_DEBUG, __VA_ARGS__)

#endif
