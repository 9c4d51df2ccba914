import AMQP
import Contracts
import Foundation
import Logging
import Platform
@testable import Runtime
import Testing

// The pure parts of the service kit: the state machine as data, provenance, the decision
// context's numbers, log escaping, derived ids and the broker permissions.

@Suite("state machine as data")
struct StateMachineTests {
    let machine = StateMachine(
        title: "lamp", procedure: "none",
        states: [.init("off", seed: "APAGADO"), .init("on"), .init("broken", final: true)],
        transitions: [
            .init(nil, "off", on: "lamp.install"), .init("off", "on", on: "lamp.switch"), .init("on", "off", on: "lamp.switch"),
            .init("on", "broken", on: StateMachine.timer("fuse")),
        ])

    @Test func itAllowsExactlyTheDeclaredSteps() {
        #expect(machine.allows(from: nil, to: "off", on: "lamp.install"))
        #expect(machine.allows(from: "on", to: "broken", on: "timer:fuse"))
        #expect(!machine.allows(from: "off", to: "on", on: "lamp.install"), "another trigger")
        #expect(!machine.allows(from: nil, to: "on", on: "lamp.switch"), "from another state")
        #expect(!machine.allows(from: "broken", to: "off", on: "lamp.switch"))
    }

    @Test func itsTriggersAreListedOnceInDeclarationOrder() {
        #expect(machine.triggers == ["lamp.install", "lamp.switch", "timer:fuse"])
        #expect(StateMachine.timer("sla.due") == "timer:sla.due")
    }

    @Test func itFindsItsStatesByName() {
        #expect(machine.state("broken")?.isFinal == true)
        #expect(machine.state("off")?.seedName == "APAGADO")
        #expect(machine.state("lost") == nil)
    }

    @Test func itsDiagramShowsEveryStateTransitionAndFinalState() {
        let lines = machine.mermaid.split(separator: "\n").map(String.init)
        #expect(lines.first == "stateDiagram-v2")
        #expect(lines.contains("    off: off (APAGADO)") && lines.contains("    on: on"))
        for line in ["    [*] --> off: lamp.install", "    off --> on: lamp.switch", "    on --> off: lamp.switch", "    on --> broken: timer:fuse"] {
            #expect(lines.contains(line), "\(line)")
        }
        #expect(lines.contains("    broken --> [*]") && !lines.contains("    on --> [*]"))
    }

    @Test func everyPlatformDiagramShowsEveryTransitionOfItsMachine() {
        for service in Platform.services {
            for aggregate in service.aggregates {
                let lines = Set(aggregate.machine.mermaid.split(separator: "\n").map(String.init))
                for t in aggregate.machine.transitions {
                    #expect(lines.contains("    \(t.from ?? "[*]") --> \(t.to): \(t.on)"), "\(service.name)/\(aggregate.kind): \(t)")
                }
                for s in aggregate.machine.states where s.isFinal {
                    #expect(lines.contains("    \(s.name) --> [*]"), "\(service.name)/\(aggregate.kind): \(s.name)")
                }
            }
        }
    }

    @Test func theCommittedStateMachineDocumentIsTheGeneratedOne() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "../../docs/state-machines.md").standardized
        let committed = try String(contentsOf: url, encoding: .utf8)
        #expect(committed == Platform.stateMachines, "docs/state-machines.md is stale: regenerate it with `swift run otctl machines > docs/state-machines.md`")
    }
}

@Suite("provenance")
struct ProvenanceTests {
    let billing = Provenance(ownUser: "billing")

    func properties(user: String?, origin: String? = nil) -> MessageProperties {
        let headers: [String: FieldValue] = origin.map { [Provenance.userHeader: FieldValue.string($0)] } ?? [:]
        return MessageProperties(headers: headers, userId: user)
    }

    @Test func thePublisherIsTheBrokerUser() {
        #expect(billing.publisher(of: properties(user: "cashier")) == "cashier")
        #expect(billing.publisher(of: properties(user: nil)) == nil)
        #expect(billing.publisher(of: properties(user: "")) == nil)
    }

    @Test func theOriginHeaderIsHonouredFromTheServiceItself() {
        #expect(billing.publisher(of: properties(user: "billing", origin: "cashier")) == "cashier", "a retry from its own delay queue")
        #expect(billing.publisher(of: properties(user: "billing", origin: "")) == "billing")
        #expect(billing.publisher(of: properties(user: "billing")) == "billing")
    }

    @Test func theOriginHeaderIsHonouredFromAReplayingOperator() {
        #expect(billing.publisher(of: properties(user: "otctl", origin: "cashier")) == "cashier")
        #expect(PlatformCatalog.participant("otctl")?.replaysDeadLetters == true)
    }

    @Test func anyoneElseCannotClaimAnotherPublisher() {
        #expect(billing.publisher(of: properties(user: "crm", origin: "cashier")) == "crm")
        #expect(billing.publisher(of: properties(user: "approval", origin: "billing")) == "approval")
        #expect(Provenance(ownUser: nil).publisher(of: properties(user: "crm", origin: "cashier")) == "crm")
    }

    func code(_ type: String, _ kind: MessageKind, _ publisher: String?) -> Rejection.Code? {
        do {
            try billing.check(type: type, kind: kind, publisher: publisher)
            return nil
        } catch {
            return error.code
        }
    }

    @Test func anEventIsAcceptedFromItsOwnerOnly() {
        #expect(code(ChargeRequested.type, .event, "commercial") == nil)
        #expect(code(ChargeRequested.type, .event, "crm") == .forbidden)
        #expect(code(WorkOrderClosed.type, .event, "billing") == .forbidden)
        #expect(code(CommandRejected.type, .event, "approval") == nil, "every service may reject a command")
    }

    @Test func aCommandIsAcceptedFromItsSendersOnly() {
        #expect(code(RecordPayment.type, .command, "cashier") == nil)
        #expect(code(RecordPayment.type, .command, "crm") == .forbidden)
        #expect(code(OpenWorkOrder.type, .command, "crm") == nil)
        #expect(code(OpenWorkOrder.type, .command, "cashier") == .forbidden)
    }

    @Test func aMessageWithoutUserIdIsRefused() {
        #expect(code(ChargeRequested.type, .event, nil) == .forbidden)
        #expect(code(RecordPayment.type, .command, nil) == .forbidden)
    }
}

@Suite("decision context")
struct DecisionContextTests {
    @Test func numbersAreDrawnInOrderAndEachOnce() throws {
        var context = DecisionContext(now: Date(), numbers: ["a": [3, 4], "b": [9]])
        #expect(try context.next("a") == 3)
        #expect(try context.next("b") == 9)
        #expect(try context.next("a") == 4)
        let error = #expect(throws: Rejection.self) { try context.next("a") }
        #expect(error?.code == .internalError)
    }

    @Test func aSequenceTheRouteDidNotDeclareIsAnInternalError() {
        var context = DecisionContext(now: Date())
        let error = #expect(throws: Rejection.self) { try context.next("work_order_number") }
        #expect(error?.code == .internalError && error?.message.contains("work_order_number") == true)
    }

    @Test func theMessageTimeDefaultsToNow() {
        let now = Date(timeIntervalSince1970: 1_795_356_000)
        #expect(DecisionContext(now: now).messageTime == now)
        #expect(DecisionContext(now: now, messageTime: now.addingTimeInterval(-60)).messageTime == now.addingTimeInterval(-60))
    }
}

@Suite("log escaping")
struct LogSafeTests {
    @Test(arguments: [
        ("a\u{0}b", "a\\u{0}b"), ("\u{1B}[31mred", "\\u{1b}[31mred"), ("line\r\nforged: ok", "line\\u{d}\\u{a}forged: ok"),
        ("a\u{2028}b\u{2029}c", "a\\u{2028}b\\u{2029}c"), ("del\u{7F}", "del\\u{7f}"), ("nel\u{85}", "nel\\u{85}"),
    ])
    func controlCharactersAreEscaped(_ text: String, _ escaped: String) {
        #expect(LogSafe.escape(text) == escaped)
    }

    @Test(arguments: ["col1\tcol2", "Cochabamba — año 2026, señor Ñandú", "日本語 🚀", ""])
    func tabsAndOrdinaryUnicodeAreKept(_ text: String) {
        #expect(LogSafe.escape(text) == text)
    }

    @Test func theEscapingHandlerEscapesMessagesAndMetadata() throws {
        let capture = Capture()
        var logger = Logger(label: "test") { _ in EscapingLogHandler(CapturingHandler(capture)) }
        logger.logLevel = .debug
        logger[metadataKey: "ot.id"] = "W\n1"
        logger.debug(
            "bad\u{1B}[2J message\r\nforged", metadata: ["k": "v\u{0}", "list": ["a\nb"], "map": ["x": "\u{2028}"], "ok": "ñ\tx"])
        let event = try #require(capture.events.first)
        #expect(event.message == "bad\\u{1b}[2J message\\u{d}\\u{a}forged")
        #expect(event.metadata["k"] == "v\\u{0}")
        #expect(event.metadata["list"] == .array(["a\\u{a}b"]))
        #expect(event.metadata["map"] == .dictionary(["x": "\\u{2028}"]))
        #expect(event.metadata["ok"] == "ñ\tx")
        #expect(event.handlerMetadata["ot.id"] == "W\\u{a}1")
        #expect(logger[metadataKey: "ot.id"] == "W\\u{a}1")
        #expect(logger.logLevel == .debug && event.level == .debug)
    }
}

/// One line a capturing handler saw: the event and the handler's own metadata at that time.
struct CapturedLine: Sendable {
    var level: Logger.Level
    var message: String
    var metadata: Logger.Metadata
    var handlerMetadata: Logger.Metadata
}

/// The lines a capturing handler saw. `@unchecked Sendable`: `lines` is only touched under `lock`.
final class Capture: @unchecked Sendable {
    private var lines: [CapturedLine] = []
    private let lock = NSLock()
    var events: [CapturedLine] { lock.withLock { lines } }
    func append(_ line: CapturedLine) { lock.withLock { lines.append(line) } }
}

/// A log handler that keeps what it is given, in memory.
struct CapturingHandler: LogHandler {
    let capture: Capture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    init(_ capture: Capture) { self.capture = capture }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        capture.append(CapturedLine(level: event.level, message: event.message.description, metadata: event.metadata ?? [:], handlerMetadata: metadata))
    }
}

@Suite("derived ids")
struct DerivedIDTests {
    @Test func theSameNameGivesTheSameId() {
        #expect(DerivedID.uuid("survey", "W-1") == DerivedID.uuid("survey", "W-1"))
    }

    @Test func distinctNamesAndNamespacesGiveDistinctIds() {
        let ids = Set((0..<2_000).map { DerivedID.uuid("workorder", "m-\($0)") })
        #expect(ids.count == 2_000)
        #expect(DerivedID.uuid("survey", "W-1") != DerivedID.uuid("workorder", "W-1"))
        #expect(DerivedID.uuid("ab", "c") != DerivedID.uuid("a", "bc"), "the namespace is separated from the name")
    }

    @Test(arguments: ["", "W-1", "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", "año ñ 🚀"])
    func anIdIsAVersion8UUID(_ name: String) throws {
        let id = DerivedID.uuid("survey", name)
        #expect(UUID(uuidString: id) != nil)
        #expect(id.count == 36 && id == id.lowercased())
        let chars = Array(id)
        #expect([8, 13, 18, 23].allSatisfy { chars[$0] == "-" })
        #expect(chars[14] == "8", "version 8")
        #expect("89ab".contains(chars[19]), "variant 10")
    }
}

@Suite("broker permissions")
struct BrokerPermissionsTests {
    let entries = BrokerPermissions.entries(services: Platform.services)

    func entry(_ user: String) throws -> BrokerPermissions.Entry {
        try #require(entries.first { $0.user == user })
    }

    func topic(_ user: String, _ exchange: String) throws -> (write: String, read: String) {
        let t = try #require(try entry(user).topics.first { $0.exchange == exchange })
        return (t.write, t.read)
    }

    func matches(_ pattern: String, _ text: String) throws -> Bool {
        let regex = try NSRegularExpression(pattern: pattern)
        return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    var allEvents: Set<String> { Set(PlatformCatalog.services.flatMap(\.events)) }
    var allCommands: [String] { MessageRegistry.all.filter { $0.kind == .command }.map { $0.type } }

    @Test func everyParticipantHasAnEntry() {
        #expect(entries.map(\.user) == PlatformCatalog.all.map(\.name))
    }

    @Test func aServicePublishesExactlyTheEventsItOwns() throws {
        for service in PlatformCatalog.services where !service.replaysDeadLetters {
            let write = try topic(service.name, PlatformTopology.events).write
            for event in allEvents {
                #expect(try matches(write, event) == service.events.contains(event), "\(service.name) publishing \(event)")
            }
        }
    }

    /// The console replays dead letters for admins: the broker lets it put any event back under
    /// its original routing key (consumers accept a replay only on behalf of the owner named in
    /// `x-origin-user`), but it owns no event of its own besides `command.rejected`.
    @Test func theServiceThatReplaysDeadLettersOwnsNoEvent() throws {
        let replayers = PlatformCatalog.services.filter(\.replaysDeadLetters)
        #expect(replayers.map(\.name) == ["console"])
        for service in replayers {
            #expect(service.events == [CommandRejected.type])
            let write = try topic(service.name, PlatformTopology.events).write
            for event in allEvents { #expect(try matches(write, event)) }
            let queues = try entry(service.name)
            #expect(try matches(queues.read, "commercial.dead") && !matches(queues.read, "commercial.commands"))
        }
    }

    @Test func theEventPatternsAreAnchoredAndTakeDotsLiterally() throws {
        let write = try topic("commercial", PlatformTopology.events).write
        #expect(try matches(write, "workorder.opened"))
        for near in ["workorder.openedX", "xworkorder.opened", "workorderXopened", "workorder.opened.extra", ""] {
            #expect(try !matches(write, near), "\(near)")
        }
    }

    @Test func eachUserSendsExactlyTheCommandsItMay() throws {
        for p in PlatformCatalog.all {
            let write = try topic(p.name, PlatformTopology.commands).write
            for command in allCommands {
                #expect(try matches(write, command) == p.commands.contains(command), "\(p.name) sending \(command)")
            }
        }
    }

    @Test func theCRMOpensOTsAndTheCashierRecordsPayments() throws {
        let crm = try topic("crm", PlatformTopology.commands).write, cashier = try topic("cashier", PlatformTopology.commands).write
        #expect(try matches(crm, OpenWorkOrder.type) && !matches(crm, RecordPayment.type))
        #expect(try matches(cashier, RecordPayment.type) && !matches(cashier, OpenWorkOrder.type))
        #expect(try !matches(try topic("crm", PlatformTopology.events).write, WorkOrderOpened.type), "an external sender publishes no event")
    }

    @Test func aServiceMayBindItsQueuesToEveryKeyOfItsTopologyAndNothingElse() throws {
        for service in Platform.services {
            let bindings = service.topology(retryDelays: ServiceCatalog.defaultRetryDelays).topology.bindings
            for exchange in [PlatformTopology.commands, PlatformTopology.events] {
                let read = try topic(service.name, exchange).read
                let keys = Set(bindings.filter { $0.exchange == exchange }.map(\.routingKey))
                for key in keys { #expect(try matches(read, key), "\(service.name) binding \(key) on \(exchange)") }
                for other in Set(allCommands + allEvents).subtracting(keys) {
                    #expect(try !matches(read, other), "\(service.name) binding \(other) on \(exchange)")
                }
            }
        }
    }

    @Test func theOperationsCenterQueueOfDispatchIsReadable() throws {
        let read = try topic("dispatch", PlatformTopology.events).read
        for key in ServiceCatalog.operationsCenter.bindings.map(\.routingKey) { #expect(try matches(read, key), "\(key)") }
        #expect(try matches(try entry("dispatch").configure, "operations.dispatch"))
    }

    @Test func aServiceOwnsOnlyItsOwnQueues() throws {
        let billing = try entry("billing")
        #expect(try matches(billing.configure, "billing.commands") && matches(billing.read, "billing.dead"))
        #expect(try !matches(billing.configure, "approval.commands") && !matches(billing.read, "approval.events"))
        #expect(try !matches(billing.configure, "billingX.commands"))
    }

    @Test func theCommittedPermissionsAreTheGeneratedOnes() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "../../deploy/rabbitmq/permissions.tsv").standardized
        let committed = try String(contentsOf: url, encoding: .utf8)
        #expect(committed == Platform.permissions, "deploy/rabbitmq/permissions.tsv is stale: regenerate it with `swift run otctl permissions`")
    }

    @Test func theCommittedAsyncAPIDocumentIsTheGeneratedOneWithEveryMessagesPublishersAndSubscribers() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "../../deploy/asyncapi.json").standardized
        let committed = try String(contentsOf: url, encoding: .utf8)
        #expect(committed == Platform.asyncAPI, "deploy/asyncapi.json is stale: regenerate it with `swift run otctl asyncapi > deploy/asyncapi.json`")
        let roles = Platform.roles
        // The console sends any command its operators give it over HTTP, and reads every event.
        #expect(roles[OpenWorkOrder.type] == .init(publishers: ["postsale", "priority", "console", "crm", "otctl"], subscribers: ["commercial"]))
        #expect(roles[WorkOrderDispatched.type]?.publishers == ["dispatch"])
        #expect(roles[WorkOrderDispatched.type]?.subscribers == ["console", "operations.dispatch"])
        #expect(roles[WorkOrderClosed.type]?.subscribers == ["commercial", "approval", "billing", "postsale", "priority", "console"])
    }
}

/// How a delivery becomes a work item: decoded once, its publisher checked, its envelope
/// attributes fit for storage and AMQP properties.
@Suite struct MessageParserTests {
    let parser = MessageParser(provenance: Provenance(ownUser: "commercial"))

    func raw<M: Message>(
        _ m: M, queue: String = "commercial.commands", user: String? = "crm", edit: (inout Envelope<M>) -> Void = { _ in }
    ) throws -> RawMessage {
        var envelope = Envelope(id: "m-1", source: "/test", correlationId: nil, causationId: nil, data: m)
        edit(&envelope)
        var message = try EnvelopeCodec.outgoing(envelope, appId: "test")
        message.properties.userId = user
        return RawMessage(
            queue: queue, exchange: M.exchange, routingKey: M.type, properties: message.properties, body: message.body)
    }

    @Test func aWellFormedCommandFromAnAllowedSenderHasNoFailure() throws {
        let item = parser.parse(try raw(OpenWorkOrder.example), origin: .delivery)
        #expect(item.failure == nil && item.isCommand && item.sender == "crm" && item.messageId == "m-1")
        #expect(item.message is OpenWorkOrder)
    }

    @Test func aCommandFromAUserWhoMayNotSendItIsForbidden() throws {
        let item = parser.parse(try raw(OpenWorkOrder.example, user: "cashier"), origin: .delivery)
        #expect(item.failure?.code == .forbidden)
    }

    @Test func anEventOnACommandQueueIsRefusedAndAnsweredAsACommand() throws {
        let item = parser.parse(try raw(ChargePaid.example, user: "billing"), origin: .delivery)
        #expect(item.failure?.code.description == "invalidEnvelope")
        #expect(item.failure?.errors.first?.field == "type")
        #expect(item.isCommand, "it gets its command.rejected")
    }

    @Test func anOversizedCorrelationIdIsRefusedAndNotCarriedIntoTheRejection() throws {
        let long = String(repeating: "c", count: 300)
        let item = parser.parse(try raw(OpenWorkOrder.example) { $0.correlationid = long }, origin: .delivery)
        #expect(item.failure?.code.description == "invalidEnvelope")
        #expect(item.failure?.errors.first?.field == "correlationid")
        #expect(item.header == nil, "the rejection is built without the oversized value")
    }

    @Test(arguments: ["", "   "]) func aBlankEnvelopeIdIsRefusedAndTheRejectionNamesTheAMQPMessageId(_ blank: String) throws {
        // CloudEvents: `id` is a non-empty string. Found by FuzzTests (seed 995350081): with an
        // empty id the command took effect under a made-up id nobody could trace it by.
        var message = try raw(OpenWorkOrder.example) { $0.id = blank }
        message.properties.messageId = "amqp-1"
        let item = parser.parse(message, origin: .delivery)
        #expect(item.failure?.code.description == "invalidEnvelope")
        #expect(item.failure?.errors.first?.field == "id")
        #expect(item.messageId == "amqp-1")
    }

    @Test func valuesThatCannotBeStoredAreReplaced() {
        #expect(MessageParser.fit("ok-1") == "ok-1")
        #expect(MessageParser.fit("a\u{0}b") == nil)
        #expect(MessageParser.fit(String(repeating: "x", count: 256)) == nil)
        #expect(MessageParser.fit("") == nil)
    }
}
