/* syslog: the syslog wire format, as pure functions (no I/O, no clock, no globals).
 *
 * - syslog_parse reads one message, RFC 5424 or RFC 3164 with the deviations real senders
 *   make (no year, ISO 8601 dates, a year after the day, no time, no host name, Cisco's
 *   "seq: *Mmm dd hh:mm:ss.mmm:" prefix), into an event record (lib/event.h).
 * - syslog_framer cuts a TCP byte stream into messages (RFC 6587): octet counting
 *   ("123 <34>1 ...") and non-transparent framing (LF, CRLF or NUL terminated), chosen per
 *   message by its first byte as rsyslog does.
 *
 * Both are total over arbitrary bytes: bounded memory, a reason on rejection, never a crash.
 * Neither allocates per message once its buffer has grown. Any thread; one parser scratch
 * buffer or framer per thread (or per connection). */
#ifndef DD_SYSLOG_H
#define DD_SYSLOG_H

#include "lib/buf.h"
#include "lib/event.h"

#include <stddef.h>
#include <stdint.h>

/* Title length cap (bytes, cut at a UTF-8 boundary). */
#define SYSLOG_TITLE_MAX 200
/* Default and smallest message size cap of a framer (bytes). */
#define SYSLOG_MAX_MSG_DEFAULT 65536
#define SYSLOG_MAX_MSG_MIN 480 /* RFC 5424 6.1: every receiver takes 480 octets */
/* Structured data bounds of one message; more is reported as "sd_error". */
#define SYSLOG_SD_MAX_ELEMENTS 64
#define SYSLOG_SD_MAX_PARAMS 256

/* Scratch bytes syslog_parse may need for a message of len bytes (with a cap of at least this
 * on scratch, it never fails with -E2BIG). */
#define SYSLOG_SCRATCH_NEED(len) (12 * (size_t)(len) + 1024)

/* Parses one syslog message of len bytes (any bytes; NULs allowed) into *ev.
 *
 * ev is first set as event_init does, then filled: kind "syslog"; severity and facility from
 * PRI (no valid PRI: facility user(1), severity notice(5), the whole input is the message, as
 * RFC 3164 4.3.3 says); host (HOSTNAME, "" when absent or "-"); app (APP-NAME, or the 3164
 * TAG before '[' or ':'); t_ms (TIMESTAMP; now_ms when there is none or it cannot be read);
 * text (MSG without a leading UTF-8 BOM and trailing CR/LF/NUL; embedded NULs become U+FFFD,
 * since the record holds C strings); title (the first non-empty line of text, cut to
 * SYSLOG_TITLE_MAX bytes at a UTF-8 boundary); fields (a JSON object, "" when empty):
 *   "procid", "msgid"          5424 PROCID/MSGID, or the 3164 "tag[pid]"
 *   "seq"                      a Cisco sequence number ("<189>123: *Mar  1 ...")
 *   "sd": {"id": {"name": "value" | ["v1", "v2"] (repeated names)}}
 *   "sd_error": "byte N: reason"   malformed structured data: the raw remainder (SD and MSG)
 *                              is then the text and no "sd" member is written
 *   "timestamp": "raw"         a 5424 TIMESTAMP that could not be read
 * The JSON is valid UTF-8: control characters are escaped; NUL and invalid UTF-8 become
 * U+FFFD.
 * source, sensor_id, recv_ms and device_id are left for the caller to set.
 *
 * now_ms is the receipt time: the time of messages without one, and the reference that
 * chooses the year of a 3164 time (the year that puts it closest to now_ms, never more than a
 * day ahead). tz_offset_s (seconds east of UTC) is the zone of 3164 and ISO times that give
 * none. Strings in *ev point into scratch, which the call resets and owns: they stay valid
 * until scratch is next reset, written or freed.
 *
 * Returns 0; -EINVAL for input that is not syslog at all (empty after trimming CR/LF/NUL, or
 * a TLS handshake sent to a plaintext port), with the reason in err; -E2BIG or -ENOMEM when
 * scratch cannot hold the result (see SYSLOG_SCRATCH_NEED). *ev is untouched on failure. */
int syslog_parse(const char *data, size_t len, int64_t now_ms, int tz_offset_s, buf *scratch,
                 event *ev, char *err, size_t errcap);

/* Called by the framer for each complete message (never empty, without its terminator or
 * octet count). msg is valid during the call only. A nonzero return stops the feed and is
 * returned by syslog_framer_feed / syslog_framer_finish. */
typedef int (*syslog_frame_fn)(void *ctx, const char *msg, size_t len);

/* A TCP framer. The caller owns the struct (init/free pair); one per connection. The counters
 * are for the caller to read. Internals are private. */
typedef struct syslog_framer {
    char *pend; /* the incomplete message being gathered (owned, grows to max_msg) */
    size_t pend_len;
    size_t pend_cap;
    size_t max_msg; /* message size cap */
    size_t want;    /* octet counting: bytes still missing of the current message */
    int state;      /* where in a frame the stream is */
    int ndigits;    /* digits gathered of a frame that may be an octet count */
    char digits[12];
    uint64_t messages;  /* messages delivered */
    uint64_t truncated; /* LF-framed messages cut at max_msg */
    uint64_t octet;     /* of the messages delivered, how many were octet-counted */
} syslog_framer;

/* Prepares f for a connection; max_msg caps a message (0: SYSLOG_MAX_MSG_DEFAULT; values
 * below SYSLOG_MAX_MSG_MIN are raised to it). Allocates nothing. */
void syslog_framer_init(syslog_framer *f, size_t max_msg);
/* Releases f's buffer; f may be initialised again. Accepts NULL. */
void syslog_framer_free(syslog_framer *f);

/* Feeds bytes read from the connection and calls fn for each complete message, in order.
 * Per message, the first byte decides: a digit followed by more digits and a space is an
 * octet count (RFC 6587 3.4.1); anything else is a message ended by LF, CRLF or NUL
 * (3.4.2) -- so a message without PRI that starts with digits but no count ("2026-10-11T..",
 * "123: ...") is read as LF-framed, as rsyslog does. Empty lines between messages are
 * skipped. An LF-framed message longer than max_msg is delivered cut at max_msg and the rest
 * up to its terminator skipped (counted in f->truncated).
 *
 * Returns 0; -EPROTO when the framing is broken beyond repair (an octet count of 0, with a
 * leading zero, or above max_msg), with the reason in err: the caller closes the connection
 * (the framer must be freed or initialised again to be reused); -ENOMEM when the buffer for an
 * incomplete message cannot grow; or fn's nonzero return (the bytes after that message are not
 * consumed). */
int syslog_framer_feed(syslog_framer *f, const char *data, size_t len, syslog_frame_fn fn,
                       void *ctx, char *err, size_t errcap);

/* At the end of the stream: delivers an unterminated last LF-framed message and makes f ready
 * for a new stream. Returns 0, fn's nonzero return, or -EPROTO when the stream ended inside an
 * octet-counted message (which is dropped, as rsyslog does: a count promises more bytes). */
int syslog_framer_finish(syslog_framer *f, syslog_frame_fn fn, void *ctx);

#endif
