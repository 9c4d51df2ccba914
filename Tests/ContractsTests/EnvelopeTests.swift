import Contracts
import Foundation
import Testing

@Suite("Envelope: CloudEvents 1.0 structured JSON")
struct EnvelopeTests {
    @Test("every example round-trips through its typed envelope", arguments: Fixture.allTypes)
    func everyExampleRoundTripsThroughItsEnvelope(type: String) throws {
        try roundTrip(Fixture.descriptor(type).messageType)
    }

    private func roundTrip<P: Message>(_: P.Type) throws {
        let envelope = Fixture.envelope(P.self)
        let decoded = try Wire.decode(P.self, from: Wire.encode(envelope))
        #expect(decoded == envelope)
        #expect(decoded.data == P.example)
    }

    @Test("every example round-trips through its registry descriptor", arguments: Fixture.allTypes)
    func everyExampleRoundTripsThroughItsDescriptor(type: String) throws {
        let descriptor = Fixture.descriptor(type)
        let body = try Fixture.encodedExample(descriptor.messageType)
        let message = try descriptor.decode(body)
        #expect(message.isEqual(to: descriptor.messageType.example))

        let decoded = try MessageRegistry.decode(body)
        #expect(decoded.header.type == type)
        #expect(decoded.header.id == Fixture.id)
        #expect(decoded.message.isEqual(to: descriptor.messageType.example))
    }

    @Test("the encoded envelope carries the CloudEvents required attributes", arguments: Fixture.allTypes)
    func encodedEnvelopeCarriesCloudEventsRequiredAttributes(type: String) throws {
        let json = try Fixture.exampleJSON(Fixture.descriptor(type).messageType)
        #expect(json["specversion"] == "1.0")
        #expect(json["id"] == .string(Fixture.id))
        #expect(json["source"] == .string(Fixture.source))
        #expect(json["type"] == .string(type))
        #expect(json["time"] == "2026-11-22T14:03:11.250Z")
        #expect(json["datacontenttype"] == "application/json")
        #expect(json["dataversion"] == 1)
        #expect(json["data"]?.objectValue != nil)
    }

    @Test func theConvenienceInitializerFillsTheAttributesFromThePayloadType() {
        let envelope = Envelope(source: "/ot/commercial", correlationId: nil, causationId: nil, data: OpenWorkOrder.example)
        #expect(envelope.specversion == "1.0")
        #expect(envelope.type == "workorder.open")
        #expect(envelope.datacontenttype == "application/json")
        #expect(envelope.dataversion == 1)
        #expect(UUID(uuidString: envelope.id) != nil)
        #expect(envelope.id == envelope.id.lowercased())
        #expect(envelope.causationid == nil)
        #expect(envelope.traceparent == nil)
    }

    @Test func aFirstCommandWithoutCorrelationIdIsCorrelatedToItsOwnId() {
        let envelope = Envelope(source: "/ot/crm", correlationId: nil, causationId: nil, data: OpenWorkOrder.example)
        #expect(envelope.correlationid == envelope.id)
    }

    @Test func aConsequenceKeepsTheCorrelationAndNamesItsCause() {
        let command = Fixture.envelope(OpenWorkOrder.self)
        let event = Envelope(source: "/ot/commercial", causedBy: command.header, data: WorkOrderOpened.example)
        #expect(event.correlationid == command.correlationid)
        #expect(event.causationid == command.id)
        #expect(event.traceparent == command.traceparent)
        #expect(event.id != command.id)
    }

    @Test func absentOptionalsAreOmittedRatherThanNull() throws {
        let envelope = Envelope(
            id: Fixture.id, source: "/ot/commercial", time: Fixture.time, correlationId: "case-1", causationId: nil,
            data: CloseWorkOrder(workOrderId: "wo-1", by: "diego.arce"))
        let text = String(decoding: try Wire.encode(envelope), as: UTF8.self)
        #expect(!text.contains("null"))
        #expect(!text.contains("causationid"))
        #expect(!text.contains("traceparent"))

        let open = OpenWorkOrder(kind: .repair, customer: .example, documents: [], description: "x")
        let openEnvelope = Envelope(source: "/s", correlationId: nil, causationId: nil, data: open)
        let openText = String(decoding: try Wire.encode(openEnvelope), as: UTF8.self)
        for absent in ["workOrderId", "serviceLine", "opportunityId", "purchaseOrder", "dueBy", "sha256", "null"] {
            #expect(!openText.contains(absent), "\(absent) should be omitted")
        }
    }

    @Test func encodingIsDeterministicWithSortedKeysAndUnescapedSlashes() throws {
        let envelope = Fixture.envelope(AttachDocument.self)
        let first = try Wire.encode(envelope)
        let second = try Wire.encode(envelope)
        #expect(first == second)
        let text = String(decoding: first, as: UTF8.self)
        #expect(text.hasPrefix(#"{"causationid":"#))
        #expect(text.contains(#""source":"/ot/tests""#))
        #expect(try Wire.encodeBytes(envelope) == [UInt8](first))
    }

    @Test func theEnvelopeTimeIsWrittenExactlyAsTheDateStrategyWritesDates() throws {
        // The envelope writes `time` as text itself; payload dates go through the encoder's date
        // strategy. Both must read the same: milliseconds, UTC, `Z`.
        let time = Date(timeIntervalSince1970: 1_795_000_000.25)
        let envelope = Envelope(
            id: Fixture.id, source: "/ot/commercial", time: time, correlationId: "case-1", causationId: nil,
            data: CloseWorkOrder(workOrderId: "wo-1", by: "diego.arce"))
        let text = String(decoding: try Wire.encode(envelope), as: UTF8.self)
        let viaStrategy = String(decoding: try Wire.encoder.encode([time]), as: UTF8.self)
        #expect(viaStrategy == "[\"\(Wire.timestamp(time))\"]")
        #expect(text.contains(#""time":"\#(Wire.timestamp(time))""#))
        #expect(Wire.timestamp(time).hasSuffix(".250Z"))
        #expect(try Wire.decode(CloseWorkOrder.self, from: Wire.encode(envelope)).time == time)
    }

    @Test("isBlank agrees with trimming white space and newlines", arguments: [
        "", " ", "\t\n\r", "\u{00A0}", "\u{2028}\u{3000}", "\u{0085}", "a", " a ", "\u{200B}", "é", "\n-\n",
    ])
    func isBlankAgreesWithTrimming(text: String) {
        #expect(text.isBlank == text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }

    @Test func unknownFieldsInDataAndInTheEnvelopeAreIgnored() throws {
        var json = try Fixture.openWorkOrderJSON()
        json = json.replacing([.key("extension")], with: "vendor-specific")
        json = json.replacing([.key("data"), .key("futureField")], with: ["nested": [1, 2, 3]])
        json = json.replacing([.key("data"), .key("customer"), .key("email")], with: "compras@cochabamba.bo")
        json = json.replacing([.key("data"), .key("documents"), .index(0), .key("pages")], with: 12)

        let envelope = try Wire.decode(OpenWorkOrder.self, from: json.data)
        #expect(envelope.data == OpenWorkOrder.example)
        let header = try Wire.decodeHeader(json.data)
        #expect(header.type == "workorder.open")
    }

    @Test func theHeaderCanBeReadWithoutKnowingThePayload() throws {
        let body = try Fixture.encodedExample(ReportDamage.self)
        let header = try Wire.decodeHeader(body)
        #expect(header == Fixture.envelope(ReportDamage.self).header)
        #expect(try Wire.decodeHeader([UInt8](body)) == header)
    }

    @Test func missingDataContentTypeAndDataVersionTakeTheirDefaults() throws {
        let json = try Fixture.openWorkOrderJSON()
            .removing([.key("datacontenttype")])
            .removing([.key("dataversion")])
        let envelope = try Wire.decode(OpenWorkOrder.self, from: json.data)
        #expect(envelope.datacontenttype == "application/json")
        #expect(envelope.dataversion == 1)
    }
}

@Suite("Timestamps: RFC 3339 UTC")
struct TimestampTests {
    @Test func timeIsWrittenInUTCWithMilliseconds() {
        let date = Date(timeIntervalSince1970: 1_795_356_191.25)
        #expect(Wire.timestamp(date) == "2026-11-22T14:03:11.250Z")
        #expect(Wire.timestamp(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(Wire.timestamp(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00.000Z")
        #expect(Wire.timestamp(Date(timeIntervalSince1970: -1.5)) == "1969-12-31T23:59:58.500Z")
    }

    @Test(arguments: [
        "2026-11-22T14:03:11.250Z",
        "2026-11-22T14:03:11.25Z",
        "2026-11-22T14:03:11.250000Z",
        "2026-11-22t14:03:11.250z",
        "2026-11-22T10:03:11.250-04:00",
        "2026-11-22T19:33:11.250+05:30",
    ])
    func timeIsAcceptedWithAnyFractionAndOffset(text: String) {
        #expect(Wire.parseTimestamp(text) == Date(timeIntervalSince1970: 1_795_356_191.25))
    }

    @Test func timeWithoutFractionalSecondsIsAccepted() throws {
        #expect(Wire.parseTimestamp("2026-11-22T14:03:11Z") == Date(timeIntervalSince1970: 1_795_356_191))
        let json = try Fixture.openWorkOrderJSON()
            .replacing([.key("time")], with: "2026-11-22T14:03:11Z")
            .replacing([.key("data"), .key("dueBy")], with: "2026-12-15T23:59:59Z")
        let envelope = try Wire.decode(OpenWorkOrder.self, from: json.data)
        #expect(envelope.time == Date(timeIntervalSince1970: 1_795_356_191))
        #expect(envelope.data.dueBy == OpenWorkOrder.example.dueBy)
    }

    @Test(arguments: [
        "2026-11-22", "2026-11-22T14:03:11", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
        "2026-11-22T24:00:00Z", "2026-11-22T14:03:11.Z", "22/11/2026 14:03", "", "2026-11-22T14:03:11Zjunk",
    ])
    func malformedTimestampsAreRejected(text: String) {
        #expect(Wire.parseTimestamp(text) == nil)
    }

    @Test func formattingAParsedTimestampGivesItBack() {
        for text in ["2026-11-22T14:03:11.123Z", "2099-12-31T23:59:59.999Z", "1999-01-01T00:00:00.001Z"] {
            #expect(Wire.parseTimestamp(text).map(Wire.timestamp) == text)
        }
    }
}

@Suite struct MessageIDTests {
    @Test func newIdsAreDistinctVersion4UUIDs() {
        var seen = Set<String>()
        for _ in 0..<1000 {
            let id = MessageID.new()
            #expect(id.count == 36)
            let uuid = UUID(uuidString: id)
            #expect(uuid != nil && uuid!.uuidString.lowercased() == id)
            #expect(Array(id)[14] == "4", "version 4")
            #expect("89ab".contains(Array(id)[19]), "RFC 4122 variant")
            seen.insert(id)
        }
        #expect(seen.count == 1000)
    }

    @Test func randomHexHasTwoDigitsPerByte() {
        #expect(MessageID.randomHex(bytes: 16).count == 32)
        #expect(MessageID.randomHex(bytes: 3).count == 6)
        let hex = MessageID.randomHex(bytes: 8)
        #expect(hex.allSatisfy { $0.isHexDigit })
    }
}
