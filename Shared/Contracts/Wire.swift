import Foundation

/// Reading and writing envelopes as bytes: the one place that knows the JSON conventions of
/// the contract (RFC 3339 UTC timestamps with milliseconds, sorted keys, unescaped slashes).
///
/// Every decoding failure comes out as a ``ContractError`` naming the offending field. Decoding
/// refuses a string containing U+0000 (NUL), anywhere in the envelope, value or key, with
/// ``ContractError/Code/invalidValue``: PostgreSQL cannot store it in `text`.
public enum Wire {
    /// The AMQP `content_type` of an envelope body.
    public static let contentType = "application/cloudevents+json"

    /// Encoder for envelopes: compact, keys sorted, timestamps as `2026-11-22T14:03:11.250Z`.
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.format(date))
        }
        return encoder
    }()

    /// Decoder for envelopes: timestamps accepted with or without fractional seconds and with
    /// any UTC offset.
    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = RFC3339.parse(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "\"\(text)\" is not an RFC 3339 timestamp")
            }
            return date
        }
        return decoder
    }()

    /// Formats a timestamp the way the contract writes it: `2026-11-22T14:03:11.250Z`.
    public static func timestamp(_ date: Date) -> String {
        RFC3339.format(date)
    }

    /// Parses an RFC 3339 timestamp (fractional seconds and offset optional), or `nil`.
    public static func parseTimestamp(_ text: String) -> Date? {
        RFC3339.parse(text)
    }

    // MARK: Encoding

    /// The hand-written encoder that writes what ``encoder`` writes, byte for byte, faster.
    public static let fastEncoder = ContractJSONEncoder()

    /// The UTF-8 JSON body of `envelope`.
    public static func encode<P: Message>(_ envelope: Envelope<P>) throws(ContractError) -> Data {
        Data(try encodeBytes(envelope))
    }

    /// The UTF-8 JSON body of `envelope`, as bytes.
    public static func encodeBytes<P: Message>(_ envelope: Envelope<P>) throws(ContractError) -> [UInt8] {
        do {
            return try fastEncoder.encode(envelope)
        } catch {
            throw ContractError(.invalidValue, message: "cannot encode \(P.type): \(error)")
        }
    }

    // MARK: Decoding

    /// The hand-written decoder that reads what ``decoder`` reads (the same errors), faster; it
    /// also refuses trailing commas, which are not JSON.
    public static let fastDecoder = ContractJSONDecoder()

    /// Reads and validates only the envelope attributes (ignoring `data`), e.g. to route a
    /// message by `type` before decoding its payload. A NUL in a string outside `data` is refused
    /// here; one inside `data` is left to the decoding of the payload.
    public static func decodeHeader(_ data: Data) throws(ContractError) -> EnvelopeHeader {
        try NULCheck.refuse(in: data, attributesOnly: true)
        return try decoding { try fastDecoder.decode(EnvelopeHeader.self, from: data) }
    }

    /// Reads and validates only the envelope attributes from raw bytes.
    public static func decodeHeader(_ bytes: some Collection<UInt8>) throws(ContractError) -> EnvelopeHeader {
        try decodeHeader(Data(bytes))
    }

    /// Decodes a whole envelope whose `type` must be `P.type`.
    public static func decode<P: Message>(_ type: P.Type, from data: Data) throws(ContractError) -> Envelope<P> {
        try NULCheck.refuse(in: data, attributesOnly: false)
        return try decoding { try fastDecoder.decode(Envelope<P>.self, from: data) }
    }

    /// Decodes a whole envelope from raw bytes.
    public static func decode<P: Message>(
        _ type: P.Type,
        from bytes: some Collection<UInt8>
    ) throws(ContractError) -> Envelope<P> {
        try decode(type, from: Data(bytes))
    }

    /// Runs a Foundation decode and translates whatever it throws into a ``ContractError``.
    static func decoding<T>(_ body: () throws -> T) throws(ContractError) -> T {
        do {
            return try body()
        } catch let error as ContractError {
            throw error
        } catch let error as DecodingError {
            throw ContractError(decoding: error)
        } catch {
            throw ContractError(.malformedJSON, message: "the body is not valid JSON: \(error)")
        }
    }
}
