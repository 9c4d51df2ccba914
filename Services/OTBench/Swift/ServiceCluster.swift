import AMQP
import Contracts
import Foundation
import Logging
import Platform
import Runtime
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A throwaway vhost and database with some of the platform's services running against them, as
/// release binaries from this executable's build folder. Everything it creates is registered with
/// the janitor (also run on Ctrl-C): the processes stop first (SIGTERM, all at once), then the vhost
/// and the database go.
final class ServiceCluster: Sendable {
    struct Spawned: Sendable {
        var name: String
        var process: Process
        var pid: Int32
        var logPath: String
    }

    let name: String
    let url: AMQPURL
    let services: [Spawned]
    let environment: [String: String]
    private let managementURL: String
    private let janitor: Janitor
    /// Set on failure: the logs stay for a look.
    let keepLogs = Box(false)

    /// Creates the vhost and database, then starts `services` (LOG_LEVEL=warning unless
    /// OTBENCH_SERVICE_LOG_LEVEL says otherwise, HTTP_PORT=0, `serviceEnvironment` on top).
    init(
        services names: [String], amqpURL: AMQPURL, managementURL: String, postgres: DatabaseEndpoint,
        serviceEnvironment: [String: String], janitor: Janitor
    ) throws {
        let id = UUID().uuidString.prefix(8).lowercased()
        let name = "otbench_\(id)"
        self.name = name
        self.managementURL = managementURL
        self.janitor = janitor
        let folder = buildFolder()
        for s in names where !FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent(s).path) {
            throw BenchError("\(folder.path)/\(s) not found: build it (swift build -c release --product \(s))")
        }

        let vhostPath = "/api/vhosts/\(name)"
        let user = amqpURL.user
        let password = amqpURL.password
        let created = try management("PUT", managementURL, vhostPath, user: user, password: password)
        guard (200..<300).contains(created) else {
            throw BenchError("management API: PUT \(vhostPath) answered \(created) (is the management plugin on \(managementURL)?)")
        }
        janitor.add("vhost \(name)") {
            _ = try? management("DELETE", managementURL, vhostPath, user: user, password: password)
        }
        let granted = try management(
            "PUT", managementURL, "/api/permissions/\(name)/\(user)", user: user, password: password,
            json: #"{"configure":".*","write":".*","read":".*"}"#)
        guard (200..<300).contains(granted) else { throw BenchError("management API: permissions answered \(granted)") }
        // The platform's users get their production permissions on the vhost: the services run
        // as their own users, and the drivers publish as the users that may send what they send.
        var permissions: [JSONValue] = []
        var topics: [JSONValue] = []
        for e in BrokerPermissions.entries(services: Platform.services) {
            permissions.append([
                "user": .string(e.user), "vhost": .string(name), "configure": .string(e.configure),
                "write": .string(e.write), "read": .string(e.read),
            ])
            for t in e.topics {
                topics.append([
                    "user": .string(e.user), "vhost": .string(name), "exchange": .string(t.exchange),
                    "write": .string(t.write), "read": .string(t.read),
                ])
            }
        }
        let definitions: JSONValue = ["permissions": .array(permissions), "topic_permissions": .array(topics)]
        let imported = try management(
            "POST", managementURL, "/api/definitions", user: user, password: password, json: definitions.rendered(pretty: false))
        guard (200..<300).contains(imported) else {
            throw BenchError("management API: platform permissions answered \(imported) (run deploy/local/servers.sh to create the users)")
        }
        let db = try psql(postgres, database: "postgres", "CREATE DATABASE \(name)")
        guard db.status == 0 else { throw BenchError("CREATE DATABASE \(name): \(db.stderr)") }
        janitor.add("database \(name)") {
            _ = try? psql(postgres, database: "postgres", "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        }

        var url = amqpURL
        url.vhost = name
        self.url = url
        func pct(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .urlPasswordAllowed) ?? s }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in serviceEnvironment { env[k] = v }
        env["DATABASE_URL"] = postgres.url(database: name)
        env["HTTP_PORT"] = "0"
        env["HTTP_HOST"] = "127.0.0.1"
        env["LOG_LEVEL"] = env["OTBENCH_SERVICE_LOG_LEVEL"] ?? "warning"
        self.environment = env

        var spawned: [Spawned] = []
        // Registered before the first start so that a failure half-way still stops what runs.
        let pids = Box<[Int32]>([])
        janitor.add("services of \(name)") { stopProcesses(pids.value.withLock { $0 }) }
        for s in names {
            var e = env
            e["SERVICE_NAME"] = s
            let login = ServiceCluster.login(s)
            e["AMQP_URL"] = "\(url.tls ? "amqps" : "amqp")://\(pct(login.user)):\(pct(login.password))@\(url.host):\(url.port)/\(name)"
            let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("otbench-\(s)-\(id).log").path
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            guard let log = FileHandle(forWritingAtPath: logPath) else { throw BenchError("cannot write \(logPath)") }
            let p = Process()
            p.executableURL = folder.appendingPathComponent(s)
            p.environment = e
            p.standardOutput = log
            p.standardError = log
            try p.run()
            try? log.close()
            pids.value.withLock { $0.append(p.processIdentifier) }
            spawned.append(Spawned(name: s, process: p, pid: p.processIdentifier, logPath: logPath))
        }
        self.services = spawned
        let keep = keepLogs
        janitor.add("service logs of \(name)") { [spawned] in
            // Logs stay after a failure, or when OTBENCH_KEEP_LOGS is set.
            if !keep.value.withLock({ $0 }) && ProcessInfo.processInfo.environment["OTBENCH_KEEP_LOGS"] == nil {
                for s in spawned { try? FileManager.default.removeItem(atPath: s.logPath) }
            }
        }
    }

    var pids: [(String, Int32)] { services.map { ($0.name, $0.pid) } }

    /// A platform user's login: `OT_AMQP_PASSWORD_<NAME>` or the local default `<name>-local`.
    static func login(_ user: String) -> (user: String, password: String) {
        let variable = "OT_AMQP_PASSWORD_" + user.uppercased().replacingOccurrences(of: "-", with: "_")
        return (user, ProcessInfo.processInfo.environment[variable] ?? "\(user)-local")
    }

    /// The cluster's vhost as the platform user `user`.
    func url(as user: String) -> AMQPURL {
        var u = url
        let login = Self.login(user)
        u.user = login.user
        u.password = login.password
        return u
    }

    /// Waits until every service finished start-up: it logged "start-up complete" (seen when the
    /// log level is info or lower), or — at LOG_LEVEL=warning that line is not written — each of its
    /// input queues has a consumer, which the services attach only once start-up is complete (the
    /// consumers sit behind the start-up gate that the same line announces).
    func waitUntilStarted(timeout: Duration = .seconds(90)) async throws {
        let deadline = ContinuousClock.now + timeout
        var pending = Set(services.map(\.name))
        while !pending.isEmpty {
            try checkRunning()
            let consumers = queueConsumers()
            for s in services where pending.contains(s.name) {
                let log = (try? String(contentsOfFile: s.logPath, encoding: .utf8)) ?? ""
                let inputs = Self.inputQueues(of: s.name)
                if log.contains("start-up complete") || (!inputs.isEmpty && inputs.allSatisfy { (consumers[$0] ?? 0) > 0 }) {
                    pending.remove(s.name)
                }
            }
            guard ContinuousClock.now < deadline else { throw BenchError("not started within \(timeout): \(pending.sorted())") }
            if !pending.isEmpty { try await Task.sleep(for: .milliseconds(200)) }
        }
    }

    /// Throws when a service has exited.
    func checkRunning() throws {
        for s in services where !s.process.isRunning {
            throw BenchError("\(s.name) exited with status \(s.process.terminationStatus)")
        }
    }

    /// The last lines of every service's log, for an error report.
    func logTails(_ lines: Int = 10) -> String {
        keepLogs.value.withLock { $0 = true }
        return services.map { s in
            let log = (try? String(contentsOfFile: s.logPath, encoding: .utf8)) ?? ""
            let tail = log.split(separator: "\n").suffix(lines).joined(separator: "\n")
            return "--- \(s.name) (\(s.logPath)) ---\n\(tail)"
        }.joined(separator: "\n")
    }

    static func inputQueues(of service: String) -> [String] {
        guard let b = Platform.service(service) else { return [] }
        return b.topology(retryDelays: ServiceCatalog.defaultRetryDelays).inputs.map(\.name)
    }

    /// Consumers per queue of the vhost, from the management API.
    private func queueConsumers() -> [String: Int] {
        guard
            let r = try? run(
                "curl", ["-s", "-m", "5", "-u", "\(url.user):\(url.password)", managementURL + "/api/queues/\(name)?columns=name,consumers"]),
            let rows = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]]
        else { return [:] }
        var out: [String: Int] = [:]
        for row in rows { if let n = row["name"] as? String { out[n] = row["consumers"] as? Int ?? 0 } }
        return out
    }

    /// Stops the services and removes the vhost and database (everything the janitor holds).
    func tearDown() { janitor.runAll() }
}

/// SIGTERM to all, up to 20 s for graceful exits, then SIGKILL to whatever still runs.
func stopProcesses(_ pids: [Int32]) {
    let live = pids.filter { kill($0, SIGTERM) == 0 }
    for _ in 0..<200 {
        if live.allSatisfy({ kill($0, 0) != 0 }) { return }
        usleep(100_000)
    }
    for p in live where kill(p, 0) == 0 { kill(p, SIGKILL) }
    for _ in 0..<50 where live.contains(where: { kill($0, 0) == 0 }) { usleep(100_000) }
}

/// A mutex-guarded value that closures can share.
final class Box<T: Sendable>: Sendable {
    let value: Mutex<T>
    init(_ v: T) { value = Mutex(v) }
}

extension ServiceCluster {
    /// Waits for the services, runs `body`, and tears the cluster down whatever happens (a
    /// failure carries the services' log tails).
    func measuring<T>(_ body: (ServiceCluster) async throws -> T) async throws -> T {
        do {
            try await waitUntilStarted()
            let result = try await body(self)
            tearDown()
            return result
        } catch {
            let tails = logTails()
            tearDown()
            throw BenchError("\(error)\n\(tails)")
        }
    }
}
