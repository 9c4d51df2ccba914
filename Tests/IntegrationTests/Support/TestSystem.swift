import AMQP
import Contracts
import Foundation
import Logging
import Platform
import PostgresNIO
import Runtime
import Synchronization

/// The package root, from this file's location.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

/// Settings of the local servers (deploy/local/servers.sh), overridable like the services'.
enum LocalServers {
    static let env = ProcessInfo.processInfo.environment
    static let amqpHost = env["TEST_AMQP_HOST"] ?? "localhost"
    static let amqpUser = env["TEST_AMQP_USER"] ?? "guest"
    static let amqpPassword = env["TEST_AMQP_PASSWORD"] ?? "guest"
    static let managementURL = env["TEST_RABBITMQ_MANAGEMENT_URL"] ?? "http://localhost:15672"
    static let dbHost = env["TEST_DB_HOST"] ?? "127.0.0.1"
    static let dbUser = env["TEST_DB_USER"] ?? "ot"
    static let dbPassword = env["TEST_DB_PASSWORD"] ?? "ot-local"
}

var testLogger: Logger {
    var l = Logger(label: "test")
    l.logLevel = .warning
    return l
}

/// Spawns a program (no shell); returns its pid. Output goes to `outputPath`.
/// (posix_spawn + waitpid: Foundation's Process can hang in waitUntilExit on Linux.)
func spawn(_ args: [String], environment: [String: String], outputPath: String) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    let argv = args.map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        for p in argv { free(p) }
        for p in envp { free(p) }
    }
    var pid: pid_t = 0
    let rc = posix_spawnp(&pid, args[0], &actions, nil, argv, envp)
    if rc != 0 { throw TestFailure("cannot start \(args[0]): errno \(rc)") }
    return pid
}

/// Exit status of a child if it has ended (reaping it), nil while it runs.
func exitStatus(_ pid: pid_t) -> Int32? {
    var status: Int32 = 0
    let r = waitpid(pid, &status, WNOHANG)
    if r == 0 { return nil }
    if r < 0 { return -1 }
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}

/// Runs a command line to completion; returns its exit status and combined output.
@discardableResult
func shell(_ args: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("shell-\(UUID().uuidString).log").path
    defer { try? FileManager.default.removeItem(atPath: out) }
    let pid = try spawn(args, environment: env, outputPath: out)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return (code, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
}

/// Integration tests share one broker and one database server, and some restart them: they run
/// one at a time, whatever the test runner's parallelism.
actor IntegrationLock {
    static let shared = IntegrationLock()
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        if !busy {
            busy = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
    }
}

/// Runs one integration test exclusively, with a fresh test system destroyed afterwards.
func withTestSystem(_ name: String, _ body: (TestSystem) async throws -> Void) async throws {
    await IntegrationLock.shared.acquire()
    do {
        let system = try await TestSystem(name)
        do {
            try await body(system)
        } catch {
            await system.destroy()
            await IntegrationLock.shared.release()
            throw error
        }
        await system.destroy()
    } catch {
        await IntegrationLock.shared.release()
        throw error
    }
    await IntegrationLock.shared.release()
}

/// Polls `condition` until it holds or the timeout passes; returns whether it held.
func eventually(timeout: Duration, every: Duration = .milliseconds(100), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: every)
    }
    return try await condition()
}

/// A throwaway world for one test: its own RabbitMQ vhost and its own PostgreSQL database, the
/// service processes started in it, and clients to watch them. `destroy()` removes it all.
final class TestSystem: @unchecked Sendable {
    let name: String
    let vhost: String
    let database: String
    private var processes: [ServiceProcess] = []
    private var connections: [AMQPConnection] = []

    var amqpURL: String { "amqp://\(LocalServers.amqpUser):\(LocalServers.amqpPassword)@\(LocalServers.amqpHost):5672/\(vhost)" }
    var databaseURL: String {
        "postgres://\(LocalServers.dbUser):\(LocalServers.dbPassword)@\(LocalServers.dbHost):5432/\(database)"
    }

    init(_ name: String) async throws {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        self.name = name
        vhost = "test-\(name)-\(suffix)"
        database = "test_\(name.replacingOccurrences(of: "-", with: "_"))_\(suffix)"
        try management("PUT", "/api/vhosts/\(vhost)")
        try management(
            "PUT", "/api/permissions/\(vhost)/\(LocalServers.amqpUser)", body: #"{"configure":".*","write":".*","read":".*"}"#)
        try grantPlatformPermissions()
        try await Self.admin("CREATE DATABASE \(database)")
    }

    /// Every platform user (deploy/local/servers.sh created them) gets on the test vhost the
    /// permissions and topic permissions it has in production (``BrokerPermissions``), in one
    /// definitions import.
    func grantPlatformPermissions() throws {
        var permissions: [JSONValue] = []
        var topics: [JSONValue] = []
        for e in BrokerPermissions.entries(services: Platform.services) {
            permissions.append([
                "user": .string(e.user), "vhost": .string(vhost), "configure": .string(e.configure), "write": .string(e.write),
                "read": .string(e.read),
            ])
            for t in e.topics {
                topics.append([
                    "user": .string(e.user), "vhost": .string(vhost), "exchange": .string(t.exchange), "write": .string(t.write),
                    "read": .string(t.read),
                ])
            }
        }
        let body: JSONValue = ["permissions": .array(permissions), "topic_permissions": .array(topics)]
        try management("POST", "/api/definitions", body: body.rendered(pretty: false))
    }

    /// The AMQP URL of a platform user on the test vhost (password `<user>-local`).
    func amqpURL(user: String) -> String {
        "amqp://\(user):\(user)-local@\(LocalServers.amqpHost):5672/\(vhost)"
    }

    func management(_ method: String, _ path: String, body: String? = nil) throws {
        var args = ["curl", "-sf", "-u", "\(LocalServers.amqpUser):\(LocalServers.amqpPassword)", "-X", method,
                    "-H", "content-type: application/json", LocalServers.managementURL + path]
        if let body { args += ["-d", body] }
        let r = try shell(args)
        if r.status != 0 { throw TestFailure("management API \(method) \(path) failed: \(r.output)") }
    }

    static func admin(_ sql: String) async throws {
        try await withConnection(database: "ot") { conn in
            _ = try await conn.query(PostgresQuery(unsafeSQL: sql), logger: testLogger)
        }
    }

    /// Runs `body` with a fresh connection to one of the test's databases.
    static func withConnection<T>(database: String, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let config = PostgresConnection.Configuration(
            host: LocalServers.dbHost, port: 5432, username: LocalServers.dbUser, password: LocalServers.dbPassword,
            database: database, tls: .disable)
        let conn = try await PostgresConnection.connect(configuration: config, id: 1, logger: testLogger)
        do {
            let result = try await body(conn)
            try await conn.close()
            return result
        } catch {
            try? await conn.close()
            throw error
        }
    }

    /// A single integer from a query on the test database (e.g. `SELECT count(*) …`).
    func count(_ sql: String) async throws -> Int {
        try await Self.withConnection(database: database) { conn in
            var value = 0
            for try await v in try await conn.query(PostgresQuery(unsafeSQL: sql), logger: testLogger).decode(Int.self) {
                value = v
            }
            return value
        }
    }

    /// Starts a service executable of this build (`.build/debug/<name>`) inside the test world.
    func start(_ service: String, environment extra: [String: String] = [:]) throws -> ServiceProcess {
        var env = ProcessInfo.processInfo.environment
        env["AMQP_URL"] = amqpURL(user: service)
        env["DATABASE_URL"] = databaseURL
        env["HTTP_PORT"] = "0"
        env["LOG_LEVEL"] = "info"
        env["RETRY_DELAYS_MS"] = "200,500,1000"
        env["MAX_ATTEMPTS"] = "60"
        env["PARK_TIMEOUT_MS"] = "2000"
        env["TIMER_TICK_MS"] = "200"
        for (k, v) in extra { env[k] = v }
        let p = try ServiceProcess(service: service, environment: env, logName: "\(vhost)-\(service)-\(processes.count)")
        processes.append(p)
        return p
    }

    /// An AMQP connection to the test vhost, shut down with the system: as the platform user
    /// `user` (default: `label` when it names one, e.g. "crm" or "dispatch"), else as guest.
    func connect(_ label: String, as user: String? = nil) async throws -> AMQPConnection {
        let login = user ?? (PlatformCatalog.participant(label) != nil ? label : nil)
        let url = login.map { amqpURL(user: $0) } ?? amqpURL
        let c = AMQPConnection(
            configuration: .init(url: try AMQPURL(string: url), name: label, heartbeatSeconds: 10), logger: testLogger)
        c.start()
        connections.append(c)
        try await c.waitUntilConnected()
        if login == nil { try await c.declare(PlatformTopology.exchanges) }
        return c
    }

    /// Publishes messages the way the platform's users would: each event as the service that
    /// owns its type, each command as an external sender allowed to send it.
    func sender() async throws -> CommandSender {
        var connections: [String: AMQPConnection] = [:]
        for user in ["crm", "cashier", "operations"] + PlatformCatalog.services.map(\.name) {
            connections[user] = try await connect(user)
        }
        return CommandSender(connections: connections)
    }

    func destroy() async {
        for p in processes { p.kill() }
        for c in connections { await c.shutdown() }
        try? management("DELETE", "/api/vhosts/\(vhost)")
        try? await Self.admin("DROP DATABASE IF EXISTS \(database) WITH (FORCE)")
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A service started as its own process, its output in a log file.
final class ServiceProcess: @unchecked Sendable {
    let pid: pid_t
    let logURL: URL
    private let ended = Mutex<Int32?>(nil)

    init(service: String, environment: [String: String], logName: String) throws {
        let logs = packageRoot.appendingPathComponent(".build/test-logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        logURL = logs.appendingPathComponent("\(logName).log")
        let binary = packageRoot.appendingPathComponent(".build/debug/\(service)").path
        pid = try spawn([binary], environment: environment, outputPath: logURL.path)
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// Whether the process still runs (reaps it once it ended).
    var isRunning: Bool {
        ended.withLock { e in
            if e != nil { return false }
            e = exitStatus(pid)
            return e == nil
        }
    }

    var terminationStatus: Int32? { _ = isRunning; return ended.withLock { $0 } }

    /// Waits until the service consumes (its start-up finished).
    func waitUntilReady(timeout: Duration = .seconds(60)) async throws {
        let ok = await eventually(timeout: timeout) { log.contains("start-up complete") || !isRunning }
        guard ok, isRunning else {
            throw TestFailure("service did not start; log \(logURL.path):\n\(log.suffix(3000))")
        }
    }

    /// Sends SIGTERM and waits for the exit; returns the exit status and how long it took.
    func terminate(timeout: Duration = .seconds(30)) async -> (status: Int32?, took: Duration) {
        let start = ContinuousClock.now
        Foundation.kill(pid, SIGTERM)
        _ = await eventually(timeout: timeout, every: .milliseconds(50)) { !isRunning }
        return (terminationStatus, ContinuousClock.now - start)
    }

    func kill() {
        guard isRunning else { return }
        Foundation.kill(pid, SIGTERM)
        for _ in 0..<100 where isRunning { usleep(100_000) }
        if isRunning {
            Foundation.kill(pid, SIGKILL)
            for _ in 0..<50 where isRunning { usleep(100_000) }
        }
    }
}

/// Collects every event published on `ot.events` (through its own durable queue, so it survives
/// broker restarts) and deduplicates them by envelope id, as every consumer must.
final class EventCollector: Sendable {
    struct Seen: Sendable {
        var header: EnvelopeHeader
        var body: [UInt8]
    }
    private let state = Mutex<(ids: Set<String>, events: [Seen], deliveries: Int)>(([], [], 0))
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    init(system: TestSystem, keys: [String] = ["#"]) async throws {
        let conn = try await system.connect("collector")
        let queue = "test.collector"
        try await conn.declare(
            Topology(
                queues: [.quorum(queue)],
                bindings: keys.map { .init(queue: queue, exchange: PlatformTopology.events, routingKey: $0) }))
        let consumer = try await conn.consume(queue: queue, prefetch: 1000)
        let t = Task { [self] in
            for await d in consumer.deliveries {
                if let header = try? Wire.decodeHeader(d.body) {
                    self.state.withLock { s in
                        s.deliveries += 1
                        if s.ids.insert(header.id).inserted { s.events.append(Seen(header: header, body: d.body)) }
                    }
                }
                conn.ack(d)
            }
        }
        task.withLock { $0 = t }
    }

    /// Distinct events of a type.
    func events(_ type: String) -> [Seen] { state.withLock { $0.events.filter { $0.header.type == type } } }
    func count(_ type: String) -> Int { events(type).count }
    /// Every delivery, duplicates included.
    var deliveries: Int { state.withLock { $0.deliveries } }

    /// Decodes the events of one type.
    func decoded<M: Message>(_ type: M.Type) -> [Envelope<M>] {
        events(M.type).compactMap { try? Wire.decode(M.self, from: Data($0.body)) }
    }
}

/// Publishes commands and events the way the platform's users would: each message through the
/// connection of a user allowed to publish its type (the broker stamps and checks `user_id`).
struct CommandSender {
    let connections: [String: AMQPConnection]

    /// A sender that publishes everything through one connection.
    init(connection: AMQPConnection) { connections = ["": connection] }

    init(connections: [String: AMQPConnection]) { self.connections = connections }

    /// The user that publishes a message of this type.
    static func publisher(of type: String) -> String? {
        if let owner = PlatformCatalog.owners(ofEvent: type).first { return owner }
        return PlatformCatalog.senders(ofCommand: type).first { ["crm", "cashier", "operations"].contains($0) }
    }

    func connection(for type: String) -> AMQPConnection {
        if let c = connections[""] { return c }
        return connections[Self.publisher(of: type) ?? "crm"] ?? connections["crm"]!
    }

    static func message<M: Message>(
        _ command: M, id: String = UUID().uuidString.lowercased(), correlationId: String? = nil
    ) throws -> OutgoingMessage {
        let envelope = Envelope(id: id, source: "/test/crm", correlationId: correlationId, causationId: nil, data: command)
        var message = try EnvelopeCodec.outgoing(envelope, appId: "test")
        message.properties.userId = publisher(of: M.type)
        return message
    }

    /// Publishes and insists until every message is confirmed (same ids: the service deduplicates).
    func publishConfirmed(_ messages: [OutgoingMessage], timeout: Duration = .seconds(120)) async throws {
        // In order, one group of consecutive messages of one publisher at a time.
        var groups: [(AMQPConnection, [OutgoingMessage])] = []
        for m in messages {
            let c = connection(for: m.routingKey)
            if let last = groups.last, last.0 === c { groups[groups.count - 1].1.append(m) } else { groups.append((c, [m])) }
        }
        for (c, group) in groups {
            let deadline = ContinuousClock.now + timeout
            let user = connections[""] == nil ? Self.publisher(of: group[0].routingKey) : nil
            let stamped = group.map { m -> OutgoingMessage in
                var m = m
                m.properties.userId = user
                return m
            }
            while true {
                do {
                    let outcomes = try await c.publish(stamped)
                    if outcomes.allSatisfy({ $0 == .confirmed }) { break }
                    throw TestFailure("not confirmed: \(outcomes.first { $0 != .confirmed }!)")
                } catch {
                    if ContinuousClock.now > deadline { throw error }
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
        }
    }

    /// Publishes raw bytes on `ot.commands` with a routing key (as the CRM).
    func publishRaw(_ body: [UInt8], routingKey: String, messageId: String) async throws -> PublishOutcome {
        let c = connections[""] ?? connections["crm"]!
        return try await c.publish(
            OutgoingMessage(
                exchange: PlatformTopology.commands, routingKey: routingKey, body: body,
                properties: MessageProperties(
                    contentType: "application/cloudevents+json", messageId: messageId, type: routingKey,
                    userId: connections[""] == nil ? "crm" : nil)))
    }
}

/// `workorder.open` number `i` of a test run, with a unique work-order id.
func openCommand(_ i: Int, run: String) -> OpenWorkOrder {
    var c = OpenWorkOrder.example
    c.workOrderId = "WO-\(run)-\(i)"
    c.dueBy = Date().addingTimeInterval(60 * 86_400)  // a public tender fixes its deadline
    return c
}
