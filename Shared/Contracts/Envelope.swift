import Foundation

/// The CloudEvents 1.0 attributes of an envelope, without its `data`.
///
/// Decoding reads only the attributes (and ignores `data` and any unknown extension
/// attributes), so a consumer can route a message before it knows the payload type. Decoding
/// validates the envelope: `specversion` must be `"1.0"`; `id`, `source` and `type` must be
/// non-empty; `time` must be an RFC 3339 timestamp. Missing `datacontenttype` defaults to
/// `application/json`, missing `dataversion` to 1.
public struct EnvelopeHeader: Codable, Sendable, Equatable {
    /// CloudEvents spec version; always `"1.0"`.
    public var specversion: String
    /// Unique message id (a UUID); consumers deduplicate on it. Also the AMQP `message_id`.
    public var id: String
    /// URI reference of the producer, e.g. `/ot/commercial`.
    public var source: String
    /// Message type, e.g. `workorder.opened`; also the routing key.
    public var type: String
    /// When the fact happened or the request was made.
    public var time: Date
    /// Media type of `data`; always `application/json`.
    public var datacontenttype: String
    /// Version of the `data` shape.
    public var dataversion: Int
    /// Business-case id shared by every message of one case.
    public var correlationid: String?
    /// Id of the message that caused this one; absent on a first command.
    public var causationid: String?
    /// W3C trace context of the producer.
    public var traceparent: String?

    /// Creates a header; no validation happens here.
    public init(
        specversion: String = "1.0",
        id: String,
        source: String,
        type: String,
        time: Date,
        datacontenttype: String = "application/json",
        dataversion: Int = 1,
        correlationid: String? = nil,
        causationid: String? = nil,
        traceparent: String? = nil
    ) {
        self.specversion = specversion
        self.id = id
        self.source = source
        self.type = type
        self.time = time
        self.datacontenttype = datacontenttype
        self.dataversion = dataversion
        self.correlationid = correlationid
        self.causationid = causationid
        self.traceparent = traceparent
    }

    enum CodingKeys: String, CodingKey {
        case specversion, id, source, type, time, datacontenttype, dataversion, correlationid, causationid, traceparent
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        specversion = try container.decode(String.self, forKey: .specversion)
        id = try container.decode(String.self, forKey: .id)
        source = try container.decode(String.self, forKey: .source)
        type = try container.decode(String.self, forKey: .type)
        time = try container.decode(Date.self, forKey: .time)
        datacontenttype =
            try container.decodeIfPresent(String.self, forKey: .datacontenttype) ?? "application/json"
        dataversion = try container.decodeIfPresent(Int.self, forKey: .dataversion) ?? 1
        correlationid = try container.decodeIfPresent(String.self, forKey: .correlationid)
        causationid = try container.decodeIfPresent(String.self, forKey: .causationid)
        traceparent = try container.decodeIfPresent(String.self, forKey: .traceparent)
        try validate()
    }

    /// Checks the CloudEvents rules a decoded header must satisfy.
    public func validate() throws(ContractError) {
        guard specversion == "1.0" else {
            throw ContractError(
                .invalidEnvelope, field: "specversion",
                message: "specversion must be \"1.0\", got \"\(specversion)\"")
        }
        for (name, value) in [("id", id), ("source", source), ("type", type)] where value.isEmpty {
            throw ContractError(.invalidEnvelope, field: name, message: "\(name) must not be empty")
        }
        guard dataversion >= 1 else {
            throw ContractError(.invalidEnvelope, field: "dataversion", message: "dataversion must be at least 1")
        }
        guard datacontenttype == "application/json" || datacontenttype.hasPrefix("application/json;") else {
            throw ContractError(
                .invalidEnvelope, field: "datacontenttype",
                message: "datacontenttype must be application/json, got \"\(datacontenttype)\"")
        }
    }

    /// Checks that this header can carry a `P`: same type, and a data version this build reads.
    public func validate<P: Message>(carrying _: P.Type) throws(ContractError) {
        guard type == P.type else {
            throw ContractError(
                .invalidEnvelope, field: "type", message: "expected type \(P.type), got \(type)")
        }
        guard dataversion <= P.dataVersion else {
            throw ContractError(
                .unsupportedVersion, field: "dataversion",
                message: "\(type) dataversion \(dataversion) is newer than supported version \(P.dataVersion)")
        }
    }
}

/// A complete CloudEvents 1.0 structured-mode message: the attributes plus `data`.
///
/// ```swift
/// let envelope = Envelope(source: "/ot/commercial", correlationId: nil, causationId: nil,
///                         data: OpenWorkOrder.example)
/// let body = try Wire.encode(envelope)
/// ```
public struct Envelope<Payload: Message>: Codable, Sendable, Equatable, JSONMembersWritable {
    /// CloudEvents spec version; always `"1.0"`.
    public var specversion: String
    /// Unique message id (a UUID); consumers deduplicate on it.
    public var id: String
    /// URI reference of the producer, e.g. `/ot/commercial`.
    public var source: String
    /// Message type; equals `Payload.type`.
    public var type: String
    /// When the fact happened or the request was made.
    public var time: Date
    /// Media type of `data`; always `application/json`.
    public var datacontenttype: String
    /// Version of the `data` shape.
    public var dataversion: Int
    /// Business-case id shared by every message of one case.
    public var correlationid: String?
    /// Id of the message that caused this one.
    public var causationid: String?
    /// W3C trace context of the producer.
    public var traceparent: String?
    /// The command or event itself.
    public var data: Payload

    /// Wraps `data` in a new envelope. `type` and `dataversion` come from `Payload`; when
    /// `correlationId` is nil the envelope's own id becomes the correlation id (a first command
    /// starts its business case).
    public init(
        id: String = MessageID.new(),
        source: String,
        time: Date = Date(),
        correlationId: String?,
        causationId: String?,
        traceparent: String? = nil,
        data: Payload
    ) {
        self.specversion = "1.0"
        self.id = id
        self.source = source
        self.type = Payload.type
        self.time = time
        self.datacontenttype = "application/json"
        self.dataversion = Payload.dataVersion
        self.correlationid = correlationId ?? id
        self.causationid = causationId
        self.traceparent = traceparent
        self.data = data
    }

    /// Builds an envelope from decoded attributes and data.
    public init(header: EnvelopeHeader, data: Payload) {
        self.specversion = header.specversion
        self.id = header.id
        self.source = header.source
        self.type = header.type
        self.time = header.time
        self.datacontenttype = header.datacontenttype
        self.dataversion = header.dataversion
        self.correlationid = header.correlationid
        self.causationid = header.causationid
        self.traceparent = header.traceparent
        self.data = data
    }

    /// Wraps `data` as a consequence of `cause`: same correlation id, causation = the cause's id,
    /// same trace.
    public init(
        id: String = MessageID.new(),
        source: String,
        time: Date = Date(),
        causedBy cause: EnvelopeHeader,
        data: Payload
    ) {
        self.init(
            id: id, source: source, time: time, correlationId: cause.correlationid ?? cause.id,
            causationId: cause.id, traceparent: cause.traceparent, data: data)
    }

    /// The attributes without `data`.
    public var header: EnvelopeHeader {
        EnvelopeHeader(
            specversion: specversion, id: id, source: source, type: type, time: time,
            datacontenttype: datacontenttype, dataversion: dataversion, correlationid: correlationid,
            causationid: causationid, traceparent: traceparent)
    }

    enum CodingKeys: String, CodingKey {
        case specversion, id, source, type, time, datacontenttype, dataversion, correlationid, causationid, traceparent
        case data
    }

    /// Writes the attributes and `data`. `time` is written as its RFC 3339 text directly (the same
    /// text the encoder's date strategy writes), sparing the strategy's nested encoder per message.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(specversion, forKey: .specversion)
        try container.encode(id, forKey: .id)
        try container.encode(source, forKey: .source)
        try container.encode(type, forKey: .type)
        try container.encode(RFC3339.format(time), forKey: .time)
        try container.encode(datacontenttype, forKey: .datacontenttype)
        try container.encode(dataversion, forKey: .dataversion)
        try container.encodeIfPresent(correlationid, forKey: .correlationid)
        try container.encodeIfPresent(causationid, forKey: .causationid)
        try container.encodeIfPresent(traceparent, forKey: .traceparent)
        try container.encode(data, forKey: .data)
    }

    /// Writes what ``encode(to:)`` writes, keys in order, for the contract's encoders.
    public func writeJSONMembers(_ w: inout JSONMemberWriter) throws {
        try w.member("causationid", ifPresent: causationid)
        try w.member("correlationid", ifPresent: correlationid)
        try w.member("data", data)
        try w.member("datacontenttype", datacontenttype)
        try w.member("dataversion", dataversion)
        try w.member("id", id)
        try w.member("source", source)
        try w.member("specversion", specversion)
        try w.member("time", RFC3339.format(time))
        try w.member("traceparent", ifPresent: traceparent)
        try w.member("type", type)
    }

    /// Decodes and validates the attributes first (so an envelope problem is reported before a
    /// payload problem), then `data`.
    public init(from decoder: any Decoder) throws {
        let header = try EnvelopeHeader(from: decoder)
        try header.validate(carrying: Payload.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let data = try container.decode(Payload.self, forKey: .data)
        self.init(header: header, data: data)
    }
}

/// The attributes read member by member by ``ContractJSONDecoder`` (no keyed container): the same
/// values and errors as ``EnvelopeHeader/init(from:)``.
extension EnvelopeHeader: JSONMembersReadable {
    public init(jsonMembers r: JSONMemberReader) throws {
        specversion = try r.member("specversion")
        id = try r.member("id")
        source = try r.member("source")
        type = try r.member("type")
        time = try r.member("time")
        datacontenttype = try r.optional("datacontenttype") ?? "application/json"
        dataversion = try r.optional("dataversion") ?? 1
        correlationid = try r.optional("correlationid")
        causationid = try r.optional("causationid")
        traceparent = try r.optional("traceparent")
        try validate()
    }
}

/// A whole envelope read member by member by ``ContractJSONDecoder``: the same values and errors
/// as ``Envelope/init(from:)`` (the attributes first, then `data`).
extension Envelope: JSONMembersReadable {
    public init(jsonMembers r: JSONMemberReader) throws {
        let header = try EnvelopeHeader(jsonMembers: r)
        try header.validate(carrying: Payload.self)
        let data: Payload = try r.member("data")
        self.init(header: header, data: data)
    }
}
