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

#include <poll.h>
#include <sys/time.h>

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
