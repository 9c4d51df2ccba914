// amqp-c-baseline: the publish-with-confirms and consume-with-ack loops of otbench's wrapper
// benchmark, written plainly in C over rabbitmq-c, as the baseline the Swift wrapper is measured
// against.
//
//   amqp-c-baseline host port vhost user password queue messages size confirmBatch prefetch
//
// Declares `queue` as a durable quorum queue, publishes `messages` persistent messages of `size`
// bytes with `mandatory` in confirm mode (waiting for every confirm after each `confirmBatch`
// messages), then consumes them with basic.qos `prefetch`, acking with `multiple` every
// prefetch/4 messages, deletes the queue and prints one line:
//
//   publish_rate=<msg/s> consume_rate=<msg/s> cpu_seconds=<user+sys> consume_cpu_seconds=<user+sys>
//
// Exit status 0 on success, 1 on any failure (message on stderr).

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/framing.h>
#include <rabbitmq-c/tcp_socket.h>
#else
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#endif

static void die(const char *what) {
    fprintf(stderr, "amqp-c-baseline: %s\n", what);
    exit(1);
}

static void check_reply(amqp_rpc_reply_t r, const char *what) {
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return;
    case AMQP_RESPONSE_NONE:
        fprintf(stderr, "amqp-c-baseline: %s: missing RPC reply\n", what);
        break;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        fprintf(stderr, "amqp-c-baseline: %s: %s\n", what, amqp_error_string2(r.library_error));
        break;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t *m = (amqp_channel_close_t *)r.reply.decoded;
            fprintf(stderr, "amqp-c-baseline: %s: channel closed: %u %.*s\n", what, m->reply_code,
                    (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        } else if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_t *m = (amqp_connection_close_t *)r.reply.decoded;
            fprintf(stderr, "amqp-c-baseline: %s: connection closed: %u %.*s\n", what, m->reply_code,
                    (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        } else {
            fprintf(stderr, "amqp-c-baseline: %s: server exception, method 0x%08X\n", what, r.reply.id);
        }
        break;
    }
    exit(1);
}

static void check_status(int status, const char *what) {
    if (status < 0) {
        fprintf(stderr, "amqp-c-baseline: %s: %s\n", what, amqp_error_string2(status));
        exit(1);
    }
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static long parse_long(const char *text, const char *name, long min) {
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < min) {
        fprintf(stderr, "amqp-c-baseline: %s must be an integer >= %ld, got '%s'\n", name, min, text);
        exit(2);
    }
    return v;
}

static amqp_connection_state_t open_connection(const char *host, int port, const char *vhost, const char *user,
                                               const char *password) {
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *socket = amqp_tcp_socket_new(conn);
    if (socket == NULL) die("cannot create a TCP socket");
    check_status(amqp_socket_open(socket, host, port), "opening the TCP socket");
    check_reply(amqp_login(conn, vhost, 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN, user, password),
                "login");
    amqp_channel_open(conn, 1);
    check_reply(amqp_get_rpc_reply(conn), "channel.open");
    return conn;
}

static void close_connection(amqp_connection_state_t conn) {
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
}

/// Confirm bookkeeping: `done[tag]` for every delivery tag, `floor` = highest tag below which
/// every message is settled (acked or nacked).
typedef struct {
    unsigned char *done;
    uint64_t floor;
    long nacked;
    long returned;
} confirms_t;

static void settle(confirms_t *c, uint64_t tag, int multiple, int ok) {
    uint64_t from = multiple ? c->floor + 1 : tag;
    for (uint64_t t = from; t <= tag; t++) {
        if (c->done[t]) continue;
        c->done[t] = 1;
        if (!ok) c->nacked++;
    }
    while (c->done[c->floor + 1]) c->floor++;
}

/// Reads frames until every message up to `last` is settled (basic.ack / basic.nack, `multiple`
/// honoured). Counts nacks and returned (unroutable) messages.
static void wait_for_confirms(amqp_connection_state_t conn, uint64_t last, confirms_t *c) {
    while (c->floor < last) {
        amqp_frame_t frame;
        check_status(amqp_simple_wait_frame(conn, &frame), "waiting for confirms");
        if (frame.frame_type == AMQP_FRAME_METHOD) {
            switch (frame.payload.method.id) {
            case AMQP_BASIC_ACK_METHOD: {
                amqp_basic_ack_t *ack = (amqp_basic_ack_t *)frame.payload.method.decoded;
                if (ack->delivery_tag > last) die("confirm for a message not yet published");
                settle(c, ack->delivery_tag, ack->multiple, 1);
                break;
            }
            case AMQP_BASIC_NACK_METHOD: {
                amqp_basic_nack_t *nack = (amqp_basic_nack_t *)frame.payload.method.decoded;
                if (nack->delivery_tag > last) die("nack for a message not yet published");
                settle(c, nack->delivery_tag, nack->multiple, 0);
                break;
            }
            case AMQP_BASIC_RETURN_METHOD:
                c->returned++;  // its header and body frames follow and are skipped
                break;
            case AMQP_CHANNEL_CLOSE_METHOD:
            case AMQP_CONNECTION_CLOSE_METHOD:
                die("broker closed the channel while publishing");
                break;
            default:
                break;
            }
        }
        amqp_maybe_release_buffers_on_channel(conn, frame.channel);
    }
}

int main(int argc, char **argv) {
    if (argc != 11) {
        fprintf(stderr,
                "usage: %s host port vhost user password queue messages size confirmBatch prefetch\n",
                argc > 0 ? argv[0] : "amqp-c-baseline");
        return 2;
    }
    const char *host = argv[1];
    int port = (int)parse_long(argv[2], "port", 1);
    const char *vhost = argv[3];
    const char *user = argv[4];
    const char *password = argv[5];
    const char *queue_name = argv[6];
    long messages = parse_long(argv[7], "messages", 1);
    long size = parse_long(argv[8], "size", 0);
    long confirm_batch = parse_long(argv[9], "confirmBatch", 1);
    long prefetch = parse_long(argv[10], "prefetch", 1);
    if (prefetch > 65535) die("prefetch must be at most 65535");
    long ack_every = prefetch / 4 > 0 ? prefetch / 4 : 1;

    double cpu0 = cpu_seconds();
    amqp_bytes_t queue = amqp_cstring_bytes(queue_name);

    // ---- publish with confirms ------------------------------------------------------------
    amqp_connection_state_t pub = open_connection(host, port, vhost, user, password);
    amqp_table_entry_t qtype;
    qtype.key = amqp_cstring_bytes("x-queue-type");
    qtype.value.kind = AMQP_FIELD_KIND_UTF8;
    qtype.value.value.bytes = amqp_cstring_bytes("quorum");
    amqp_table_t qargs = {1, &qtype};
    amqp_queue_declare(pub, 1, queue, 0, 1, 0, 0, qargs);
    check_reply(amqp_get_rpc_reply(pub), "queue.declare");
    amqp_confirm_select(pub, 1);
    check_reply(amqp_get_rpc_reply(pub), "confirm.select");

    char *payload = malloc(size > 0 ? (size_t)size : 1);
    if (payload == NULL) die("out of memory");
    memset(payload, 'x', size > 0 ? (size_t)size : 1);
    amqp_bytes_t body = {(size_t)size, payload};
    amqp_basic_properties_t props;
    memset(&props, 0, sizeof props);
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.content_type = amqp_cstring_bytes("application/octet-stream");
    props.delivery_mode = AMQP_DELIVERY_PERSISTENT;

    uint64_t published = 0;
    confirms_t confirms = {calloc((size_t)messages + 2, 1), 0, 0, 0};
    if (confirms.done == NULL) die("out of memory");
    double t0 = now_seconds();
    while ((long)published < messages) {
        long n = confirm_batch;
        if (n > messages - (long)published) n = messages - (long)published;
        for (long i = 0; i < n; i++) {
            check_status(amqp_basic_publish(pub, 1, amqp_empty_bytes, queue, 1, 0, &props, body), "basic.publish");
            published++;
        }
        wait_for_confirms(pub, published, &confirms);
    }
    double publish_seconds = now_seconds() - t0;
    if (confirms.nacked > 0 || confirms.returned > 0) {
        fprintf(stderr, "amqp-c-baseline: %ld nacked, %ld returned\n", confirms.nacked, confirms.returned);
        return 1;
    }

    // ---- consume with grouped acks ----------------------------------------------------------
    amqp_connection_state_t con = open_connection(host, port, vhost, user, password);
    t0 = now_seconds();
    double consume_cpu0 = cpu_seconds();
    amqp_basic_qos(con, 1, 0, (uint16_t)prefetch, 0);
    check_reply(amqp_get_rpc_reply(con), "basic.qos");
    amqp_basic_consume(con, 1, queue, amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(con), "basic.consume");
    long received = 0;
    while (received < messages) {
        amqp_envelope_t envelope;
        amqp_maybe_release_buffers(con);
        amqp_rpc_reply_t r = amqp_consume_message(con, &envelope, NULL, 0);
        check_reply(r, "consuming");
        received++;
        if (received % ack_every == 0 || received == messages) {
            check_status(amqp_basic_ack(con, 1, envelope.delivery_tag, 1), "basic.ack");
        }
        amqp_destroy_envelope(&envelope);
    }
    double consume_seconds = now_seconds() - t0;
    double consume_cpu = cpu_seconds() - consume_cpu0;

    // ---- clean up ---------------------------------------------------------------------------
    amqp_queue_delete(pub, 1, queue, 0, 0);
    check_reply(amqp_get_rpc_reply(pub), "queue.delete");
    close_connection(con);
    close_connection(pub);
    free(payload);
    free(confirms.done);

    printf("publish_rate=%.0f consume_rate=%.0f cpu_seconds=%.3f consume_cpu_seconds=%.3f\n",
           (double)messages / publish_seconds, (double)messages / consume_seconds, cpu_seconds() - cpu0, consume_cpu);
    return 0;
}
