#ifndef OT_CRABBITMQ_SHIM_H
#define OT_CRABBITMQ_SHIM_H

// Debian's librabbitmq-dev (rabbitmq-c 0.11) ships flat headers; upstream 0.12+ moved them under
// rabbitmq-c/. Serve both.
#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/framing.h>
#include <rabbitmq-c/tcp_socket.h>
#include <rabbitmq-c/ssl_socket.h>
#else
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#endif

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

/// Names the calling thread for the kernel (`top -H`, `perf`, `/proc/<pid>/task/*/comm`); the
/// kernel keeps the first 15 bytes.
static inline void ot_name_current_thread(const char *name) {
#if defined(__linux__)
    prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
#else
    (void)name;
#endif
}

/// Big-endian stores for the frames written below.
static inline void ot_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void ot_put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void ot_put64(uint8_t *p, uint64_t v) { ot_put32(p, (uint32_t)(v >> 32)); ot_put32(p + 4, (uint32_t)v); }

/// The bytes `ot_encode_publish` may need for a message with a body of `body_len` bytes: a
/// method frame and a content header of at most `frame_max` each, and the body frames.
static inline size_t ot_publish_capacity(size_t body_len, size_t frame_max) {
    size_t per_frame = frame_max > 8 ? frame_max - 8 : 1;
    return 2 * frame_max + body_len + 8 * (body_len / per_frame + 1);
}

/// Writes one `basic.publish` as rabbitmq-c's `amqp_basic_publish` sends it — the method frame,
/// the content header and the body in frames of at most `frame_max` bytes — into `out` (at least
/// `ot_publish_capacity` bytes), so that many messages go to the socket in one write. Sets
/// `*written`; returns AMQP_STATUS_OK or the encoder's error (a property that does not fit).
static inline int ot_encode_publish(uint8_t *out, size_t cap, size_t *written, amqp_channel_t channel,
                                    amqp_bytes_t exchange, amqp_bytes_t routing_key, amqp_boolean_t mandatory,
                                    amqp_basic_properties_t *properties, amqp_bytes_t body, size_t frame_max) {
    if (frame_max <= 8 + 12 || cap < ot_publish_capacity(body.len, frame_max)) return AMQP_STATUS_INVALID_PARAMETER;
    size_t max_payload = frame_max - 8;
    size_t off = 0;

    amqp_basic_publish_t method;
    method.ticket = 0;
    method.exchange = exchange;
    method.routing_key = routing_key;
    method.mandatory = mandatory;
    method.immediate = 0;
    uint8_t *f = out + off;
    amqp_bytes_t args = { max_payload - 4, f + 7 + 4 };
    int res = amqp_encode_method(AMQP_BASIC_PUBLISH_METHOD, &method, args);
    if (res < 0) return res;
    f[0] = AMQP_FRAME_METHOD;
    ot_put16(f + 1, channel);
    ot_put32(f + 3, (uint32_t)res + 4);
    ot_put32(f + 7, AMQP_BASIC_PUBLISH_METHOD);
    f[7 + 4 + res] = AMQP_FRAME_END;
    off += 8 + 4 + (size_t)res;

    f = out + off;
    amqp_bytes_t props = { max_payload - 12, f + 7 + 12 };
    res = amqp_encode_properties(AMQP_BASIC_CLASS, properties, props);
    if (res < 0) return res;
    f[0] = AMQP_FRAME_HEADER;
    ot_put16(f + 1, channel);
    ot_put32(f + 3, (uint32_t)res + 12);
    ot_put16(f + 7, AMQP_BASIC_CLASS);
    ot_put16(f + 9, 0);
    ot_put64(f + 11, (uint64_t)body.len);
    f[7 + 12 + res] = AMQP_FRAME_END;
    off += 8 + 12 + (size_t)res;

    for (size_t done = 0; done < body.len;) {
        size_t n = body.len - done < max_payload ? body.len - done : max_payload;
        f = out + off;
        f[0] = AMQP_FRAME_BODY;
        ot_put16(f + 1, channel);
        ot_put32(f + 3, (uint32_t)n);
        memcpy(f + 7, (const uint8_t *)body.bytes + done, n);
        f[7 + n] = AMQP_FRAME_END;
        off += 8 + n;
        done += n;
    }
    *written = off;
    return AMQP_STATUS_OK;
}

/// Writes all of `len` bytes to the connection's socket (non-blocking: waits for room with
/// poll, at most `timeout_ms` at a time without progress). Returns 0, or -1 with errno set
/// (ETIMEDOUT when the socket took nothing for `timeout_ms`).
static inline int ot_write_all(int fd, const uint8_t *buf, size_t len, int timeout_ms) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(fd, buf + done, len - done, MSG_NOSIGNAL);
        if (n > 0) { done += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = { fd, POLLOUT, 0 };
            int r = poll(&p, 1, timeout_ms);
            if (r < 0 && errno == EINTR) continue;
            if (r == 0) { errno = ETIMEDOUT; return -1; }
            if (r < 0) return -1;
            continue;
        }
        if (n == 0) errno = EPIPE;
        return -1;
    }
    return 0;
}

/// `amqp_login` is variadic and cannot be called from Swift; this wrapper fixes the SASL method to
/// PLAIN with a user name and password.
static inline amqp_rpc_reply_t ot_amqp_login_plain(amqp_connection_state_t state, const char *vhost,
                                                   int channel_max, int frame_max, int heartbeat,
                                                   const char *user, const char *password) {
    return amqp_login(state, vhost, channel_max, frame_max, heartbeat, AMQP_SASL_METHOD_PLAIN, user,
                      password);
}

/// Reads a method frame's decoded payload pointer (union member access is awkward from Swift).
static inline void *ot_frame_method_decoded(const amqp_frame_t *frame) {
    return frame->payload.method.decoded;
}

static inline amqp_method_number_t ot_frame_method_id(const amqp_frame_t *frame) {
    return frame->payload.method.id;
}

static inline amqp_bytes_t ot_frame_body_fragment(const amqp_frame_t *frame) {
    return frame->payload.body_fragment;
}

static inline uint64_t ot_frame_header_body_size(const amqp_frame_t *frame) {
    return frame->payload.properties.body_size;
}

static inline amqp_basic_properties_t *ot_frame_header_properties(const amqp_frame_t *frame) {
    return (amqp_basic_properties_t *)frame->payload.properties.decoded;
}

/// Field-table values read from Swift (copied out into `FieldValue`).
static inline uint8_t ot_field_kind(const amqp_field_value_t *v) { return v->kind; }
static inline amqp_bytes_t ot_field_bytes(const amqp_field_value_t *v) { return v->value.bytes; }
static inline int64_t ot_field_integer(const amqp_field_value_t *v) {
    switch (v->kind) {
    case AMQP_FIELD_KIND_I8: return v->value.i8;
    case AMQP_FIELD_KIND_U8: return v->value.u8;
    case AMQP_FIELD_KIND_I16: return v->value.i16;
    case AMQP_FIELD_KIND_U16: return v->value.u16;
    case AMQP_FIELD_KIND_I32: return v->value.i32;
    case AMQP_FIELD_KIND_U32: return v->value.u32;
    case AMQP_FIELD_KIND_I64: return v->value.i64;
    case AMQP_FIELD_KIND_U64: return (int64_t)v->value.u64;
    case AMQP_FIELD_KIND_TIMESTAMP: return (int64_t)v->value.u64;
    case AMQP_FIELD_KIND_BOOLEAN: return v->value.boolean;
    default: return 0;
    }
}
static inline int ot_field_is_integer(const amqp_field_value_t *v) {
    switch (v->kind) {
    case AMQP_FIELD_KIND_I8: case AMQP_FIELD_KIND_U8: case AMQP_FIELD_KIND_I16:
    case AMQP_FIELD_KIND_U16: case AMQP_FIELD_KIND_I32: case AMQP_FIELD_KIND_U32:
    case AMQP_FIELD_KIND_I64: case AMQP_FIELD_KIND_U64: case AMQP_FIELD_KIND_TIMESTAMP:
        return 1;
    default: return 0;
    }
}
static inline amqp_array_t ot_field_array(const amqp_field_value_t *v) { return v->value.array; }
static inline amqp_table_t ot_field_table(const amqp_field_value_t *v) { return v->value.table; }


/// Method ids as plain integer constants (the library's macros carry casts Swift does not import).
enum {
    OT_METHOD_BASIC_DELIVER = AMQP_BASIC_DELIVER_METHOD,
    OT_METHOD_BASIC_ACK = AMQP_BASIC_ACK_METHOD,
    OT_METHOD_BASIC_NACK = AMQP_BASIC_NACK_METHOD,
    OT_METHOD_BASIC_RETURN = AMQP_BASIC_RETURN_METHOD,
    OT_METHOD_BASIC_CANCEL = AMQP_BASIC_CANCEL_METHOD,
    OT_METHOD_BASIC_GET_OK = AMQP_BASIC_GET_OK_METHOD,
    OT_METHOD_CHANNEL_CLOSE = AMQP_CHANNEL_CLOSE_METHOD,
    OT_METHOD_CHANNEL_CLOSE_OK = AMQP_CHANNEL_CLOSE_OK_METHOD,
    OT_METHOD_CONNECTION_CLOSE = AMQP_CONNECTION_CLOSE_METHOD,
    OT_METHOD_CONNECTION_CLOSE_OK = AMQP_CONNECTION_CLOSE_OK_METHOD,
    OT_METHOD_CONNECTION_BLOCKED = AMQP_CONNECTION_BLOCKED_METHOD,
    OT_METHOD_CONNECTION_UNBLOCKED = AMQP_CONNECTION_UNBLOCKED_METHOD,
};

#endif
