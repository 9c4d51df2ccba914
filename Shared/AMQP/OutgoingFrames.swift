import CRabbitMQ

/// A write buffer of `basic.publish` frames: the publishes of one batch are encoded here
/// (`ot_encode_publish`, the frames rabbitmq-c would send) and written to the socket in one
/// system call instead of three per message. Only the connection's I/O thread uses it.
struct OutgoingFrames {
    /// Past this many bytes the buffer is written out before the next publish is added.
    static let flushAt = 256 * 1024

    private(set) var bytes: [UInt8] = []
    /// Bytes in use at the start of `bytes`.
    private(set) var count = 0

    /// Encodes one publish at the end of the buffer (growing it if needed). Returns
    /// `AMQP_STATUS_OK`, or the encoder's error, leaving the buffer as it was.
    mutating func append(
        channel: amqp_channel_t, exchange: amqp_bytes_t, routingKey: amqp_bytes_t, mandatory: amqp_boolean_t,
        properties: inout amqp_basic_properties_t, body: amqp_bytes_t, frameMax: Int
    ) -> Int32 {
        let need = ot_publish_capacity(body.len, frameMax)
        if bytes.count - count < need {
            let size = max(count + need, Self.flushAt + need, bytes.count * 2)
            bytes.append(contentsOf: repeatElement(0, count: size - bytes.count))
        }
        var written = 0
        let start = count
        let status = bytes.withUnsafeMutableBufferPointer { out in
            ot_encode_publish(
                out.baseAddress! + start, out.count - start, &written, channel, exchange, routingKey, mandatory, &properties,
                body, frameMax)
        }
        if status == AMQP_STATUS_OK.rawValue { count += written }
        return status
    }

    /// Empties the buffer, keeping its memory.
    mutating func reset() { count = 0 }
}
