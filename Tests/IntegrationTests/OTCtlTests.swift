import AMQP
import Contracts
import Foundation
import Logging
import Platform
import Commercial
import Runtime
import Testing

/// The operator tool, run as the built binary against the local broker, each test in its own vhost
/// (one at a time, like every integration test: others restart the broker).
@Suite struct OTCtlTests {
    // MARK: send

    @Test func sendPublishesAValidCommandBuiltFromFieldsAsACloudEventsEnvelope() async throws {
        try await withExclusiveVhost("otctl-send") { vhost in
            try await withAMQP(vhost) { amqp in
                try await amqp.declare(probe("probe", boundTo: OpenWorkOrder.type))
                let started = Date()
                let run = try await otctl(
                    ["send", OpenWorkOrder.type, "--correlation-id", "case-42"] + openWorkOrderFields(), vhost: vhost)
                #expect(run.status == 0, "stderr: \(run.stderr)")
                let id = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(UUID(uuidString: id) != nil, "prints the message id, got \(run.stdout)")

                let fetched = try #require(try await amqp.get(queue: "probe"), "the command reached a queue bound to ot.commands")
                let d = fetched.delivery
                amqp.ack(d)
                #expect(d.exchange == PlatformTopology.commands)
                #expect(d.routingKey == OpenWorkOrder.type)

                let envelope = try Wire.decode(OpenWorkOrder.self, from: d.body)
                #expect(envelope.id == id)
                #expect(envelope.source == "/ot/otctl")
                #expect(envelope.type == OpenWorkOrder.type)
                #expect(envelope.correlationid == "case-42")
                #expect(envelope.causationid == nil)
                #expect(abs(envelope.time.timeIntervalSince(started)) < 60)
                #expect(envelope.data.kind == .repair)
                #expect(envelope.data.customer.name == "Gobierno Autónomo Municipal")
                #expect(envelope.data.customer.taxId == "1020304050", "a quoted JSON value stays a string")
                #expect(envelope.data.customer.country == .bo)
                #expect(envelope.data.documents == [])
                #expect(envelope.data.description == "Move the pole at Av. Arce 2631")

                let p = d.properties
                #expect(p.messageId == id)
                #expect(p.type == OpenWorkOrder.type)
                #expect(p.correlationId == "case-42")
                #expect(p.appId == "otctl")
                #expect(p.contentType == "application/cloudevents+json")
                #expect(p.deliveryMode == 2)
                #expect(p.timestamp == UInt64(envelope.time.timeIntervalSince1970))
                let traceparent = try #require(p.headers[Headers.traceparent]?.stringValue)
                #expect(traceparent == envelope.traceparent)
                #expect(traceparent.hasPrefix("00-") && traceparent.count == 55)
            }
        }
    }

    @Test func sendRefusesAnInvalidCommandWithExitStatus2NamingTheMissingField() async throws {
        try await withExclusiveVhost("otctl-invalid") { vhost in
            try await withAMQP(vhost) { amqp in
                try await amqp.declare(probe("probe", boundTo: OpenWorkOrder.type))
                let run = try await otctl(["send", OpenWorkOrder.type] + openWorkOrderFields(except: "description"), vhost: vhost)
                #expect(run.status == 2)
                #expect(run.stderr.contains("data.description"), "stderr: \(run.stderr)")
                #expect(run.stdout.isEmpty)
                #expect(try await amqp.queueStatus("probe").messages == 0, "nothing was published")
            }
        }
    }

    @Test func sendOfACommandNoServiceHandlesFailsAsUnroutable() async throws {
        try await withExclusiveVhost("otctl-unroutable") { vhost in
            try await withAMQP(vhost) { amqp in
                try await amqp.declare(PlatformTopology.exchanges)
                let run = try await otctl(
                    ["send", CloseWorkOrder.type, "--data", #"{"workOrderId": "OT-1", "by": "ops"}"#], vhost: vhost)
                #expect(run.status == 1)
                #expect(run.stderr.contains("no service handles \(CloseWorkOrder.type)"), "stderr: \(run.stderr)")
            }
        }
    }

    // MARK: dead letters

    @Test func deadListShowsDeadLettersAndReplayAllMovesThemBackToTheirOriginalRoutingKey() async throws {
        try await withExclusiveVhost("otctl-dead") { vhost in
            try await withAMQP(vhost) { amqp in
                let service = CommercialService.definition.topology(retryDelays: ServiceCatalog.defaultRetryDelays)
                try await amqp.declare(service.topology)
                let letters = try (1...3).map { try deadLetter(id: "dead-\($0)", reason: "data.customer is required (\($0))") }
                for outcome in try await amqp.publish(letters) { #expect(outcome == .confirmed) }

                let list = try await otctl(["dead", "list", "commercial", "--json"], vhost: vhost)
                #expect(list.status == 0, "stderr: \(list.stderr)")
                let shown = try list.stdout.split(separator: "\n").map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
                #expect(Set(shown.compactMap { $0["id"]?.stringValue }) == ["dead-1", "dead-2", "dead-3"])
                for letter in shown {
                    #expect(letter["type"]?.stringValue == OpenWorkOrder.type)
                    #expect(letter["originalRoutingKey"]?.stringValue == OpenWorkOrder.type)
                    #expect(letter["code"]?.stringValue == "validation")
                    #expect(letter["reason"]?.stringValue?.hasPrefix("data.customer is required") == true)
                }
                #expect(try await eventually { try await amqp.queueStatus("commercial.dead").messages == 3 }, "list leaves them in the queue")

                let replay = try await otctl(["dead", "replay", "commercial", "--all"], vhost: vhost)
                #expect(replay.status == 0, "stderr: \(replay.stderr)")
                #expect(replay.stdout.contains("3 dead letter(s) replayed"), "stdout: \(replay.stdout)")
                #expect(try await eventually { try await amqp.queueStatus("commercial.dead").messages == 0 })

                var replayed: [Delivery] = []
                while let fetched = try await amqp.get(queue: "commercial.commands") {
                    replayed.append(fetched.delivery)
                    amqp.ack(fetched.delivery)
                }
                #expect(Set(replayed.compactMap(\.properties.messageId)) == ["dead-1", "dead-2", "dead-3"], "ids are kept")
                for d in replayed {
                    let original = try #require(letters.first { $0.properties.messageId == d.properties.messageId })
                    #expect(d.exchange == PlatformTopology.commands)
                    #expect(d.routingKey == OpenWorkOrder.type)
                    #expect(d.body == original.body)
                    #expect(d.properties.headers.keys.filter { $0.hasPrefix("x-ot-") }.isEmpty, "dead-letter headers stripped")
                    #expect(d.properties.headers[Headers.traceparent] == original.properties.headers[Headers.traceparent])
                }
            }
        }
    }

    @Test func deadReplayOfOneIdWithNewIdRenamesItAndLeavesTheOthersDead() async throws {
        try await withExclusiveVhost("otctl-replay-id") { vhost in
            try await withAMQP(vhost) { amqp in
                let service = CommercialService.definition.topology(retryDelays: ServiceCatalog.defaultRetryDelays)
                try await amqp.declare(service.topology)
                let letters = try ["keep-1", "again-1", "keep-2"].map { try deadLetter(id: $0, reason: "rejected") }
                _ = try await amqp.publish(letters)

                let replay = try await otctl(["dead", "replay", "commercial", "--id", "again-1", "--new-id"], vhost: vhost)
                #expect(replay.status == 0, "stderr: \(replay.stderr)")
                #expect(try await eventually { try await amqp.queueStatus("commercial.dead").messages == 2 })

                let fetched = try #require(try await amqp.get(queue: "commercial.commands"))
                amqp.ack(fetched.delivery)
                let newId = try #require(fetched.delivery.properties.messageId)
                #expect(newId != "again-1")
                #expect(replay.stdout.contains("replayed again-1 as \(newId)"), "stdout: \(replay.stdout)")
                #expect(try Wire.decodeHeader(fetched.delivery.body).id == newId, "the envelope id changes too")
                #expect(try await amqp.get(queue: "commercial.commands") == nil)

                let missing = try await otctl(["dead", "replay", "commercial", "--id", "no-such-id"], vhost: vhost)
                #expect(missing.status == 1)
                #expect(missing.stderr.contains("no-such-id: no such dead letter"), "stderr: \(missing.stderr)")
                #expect(try await eventually { try await amqp.queueStatus("commercial.dead").messages == 2 })
            }
        }
    }

    // MARK: generated files

    @Test func committedBrokerDefinitionsMatchTheGeneratedOnes() async throws {
        let run = try await otctl(["definitions"], vhost: nil)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let committed = try String(contentsOf: Self.packageRoot.appending(path: "deploy/rabbitmq/definitions.json"), encoding: .utf8)
        #expect(
            run.stdout == committed,
            "deploy/rabbitmq/definitions.json is stale: regenerate it with `swift run otctl definitions > deploy/rabbitmq/definitions.json`"
        )
    }

    @Test func committedPermissionsMatchTheGeneratedOnes() async throws {
        let run = try await otctl(["permissions"], vhost: nil)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let committed = try String(contentsOf: Self.packageRoot.appending(path: "deploy/rabbitmq/permissions.tsv"), encoding: .utf8)
        #expect(
            run.stdout == committed,
            "deploy/rabbitmq/permissions.tsv is stale: regenerate it with `swift run otctl permissions > deploy/rabbitmq/permissions.tsv`")
    }

    @Test func committedStateMachineDocumentationMatchesTheDeclarations() async throws {
        let run = try await otctl(["machines"], vhost: nil)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let committed = try String(contentsOf: Self.packageRoot.appending(path: "docs/state-machines.md"), encoding: .utf8)
        #expect(run.stdout == committed, "docs/state-machines.md is stale: regenerate it with `swift run otctl machines > docs/state-machines.md`")
        #expect(run.stdout.contains("stateDiagram-v2") && run.stdout.contains("workorder.assign"))
    }

    // MARK: Helpers

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs the built `otctl` with `OTCTL_AMQP_URL` pointing at the vhost; stdout and stderr apart.
    /// (posix_spawn + waitpid, polled: Foundation's Process can hang in waitUntilExit on Linux.)
    func otctl(_ arguments: [String], vhost: TestVhost?) async throws -> Run {
        let binary = Self.packageRoot.appending(path: ".build/debug/otctl").path
        try #require(
            FileManager.default.isExecutableFile(atPath: binary), "\(binary) is missing: run `swift build --product otctl` first")
        let directory = FileManager.default.temporaryDirectory.appending(path: "otctl-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appending(path: "stdout").path
        let err = directory.appending(path: "stderr").path

        var environment = ProcessInfo.processInfo.environment
        environment["OTCTL_AMQP_URL"] = vhost?.amqpURL ?? "amqp://nobody:none@127.0.0.1:1/none"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([binary] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, binary, &actions, nil, argv, envp)
        try #require(rc == 0, "cannot start otctl: errno \(rc)")

        let deadline = ContinuousClock.now + .seconds(60)
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            if ContinuousClock.now > deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                Issue.record("otctl \(arguments.joined(separator: " ")) did not finish within 60 s")
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Run(
            status: code, stdout: try String(contentsOfFile: out, encoding: .utf8),
            stderr: try String(contentsOfFile: err, encoding: .utf8))
    }

    /// Runs `body` with a fresh vhost, holding the integration lock.
    func withExclusiveVhost(_ purpose: String, _ body: (TestVhost) async throws -> Void) async throws {
        await IntegrationLock.shared.acquire()
        do {
            try await TestVhost.with(purpose, body)
        } catch {
            await IntegrationLock.shared.release()
            throw error
        }
        await IntegrationLock.shared.release()
    }

    /// A connection to the vhost for the test's own declarations and checks, shut down afterwards.
    func withAMQP<T>(_ vhost: TestVhost, _ body: (AMQPConnection) async throws -> T) async throws -> T {
        let connection = AMQPConnection(
            configuration: .init(url: try AMQPURL(string: vhost.amqpURL), name: "otctl-tests"),
            logger: Logger(label: "otctl-tests") { _ in SwiftLogNoOpLogHandler() })
        connection.start()
        do {
            try await connection.waitUntilConnected(timeout: .seconds(15))
            let result = try await body(connection)
            await connection.shutdown()
            return result
        } catch {
            await connection.shutdown()
            throw error
        }
    }

    /// The platform exchanges plus a classic queue bound to `ot.commands` with `key`.
    func probe(_ queue: String, boundTo key: String) -> Topology {
        var topology = PlatformTopology.exchanges
        topology.queues.append(.init(name: queue, durable: false, autoDelete: true))
        topology.bindings.append(.init(queue: queue, exchange: PlatformTopology.commands, routingKey: key))
        return topology
    }

    /// A valid `workorder.open` as `--field` arguments, optionally without one top-level field.
    func openWorkOrderFields(except omitted: String? = nil) -> [String] {
        [
            "kind=repair",
            "customer.id=C-1042",
            "customer.name=Gobierno Autónomo Municipal",
            #"customer.taxId="1020304050""#,
            "customer.sector=public",
            "customer.segment=enterprise",
            "customer.country=BO",
            "documents=[]",
            "description=Move the pole at Av. Arce 2631",
        ]
        .filter { omitted == nil || !$0.hasPrefix("\(omitted!)=") }
        .flatMap { ["--field", $0] }
    }

    /// A dead letter as the runtime writes it into `commercial.dead` for a rejected `workorder.open`.
    func deadLetter(id: String, reason: String) throws -> OutgoingMessage {
        let envelope = Envelope(
            id: id, source: "/ot/crm", correlationId: nil, causationId: nil, traceparent: TraceContext.new(),
            data: OpenWorkOrder.example)
        var message = try EnvelopeCodec.outgoing(envelope, appId: "crm")
        message.exchange = ""
        message.routingKey = "commercial.dead"
        message.properties.headers[Headers.deadCode] = "validation"
        message.properties.headers[Headers.deadReason] = .string(reason)
        message.properties.headers[Headers.originalExchange] = .string(PlatformTopology.commands)
        message.properties.headers[Headers.originalRoutingKey] = .string(OpenWorkOrder.type)
        message.properties.headers[Headers.originalQueue] = "commercial.commands"
        message.properties.headers[Headers.failedAt] = .string(Wire.timestamp(Date()))
        message.properties.headers[Headers.service] = "commercial"
        return message
    }

    /// Polls `condition` for up to five seconds (queue counts settle after acks).
    func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await condition()
    }
}
