import AMQP
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// MARK: - Errors and time

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// User + system CPU seconds used so far by this process (every thread).
func processCPUSeconds() -> Double {
    var ru = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &ru)
    return Double(ru.ru_utime.tv_sec) + Double(ru.ru_utime.tv_usec) / 1e6 + Double(ru.ru_stime.tv_sec)
        + Double(ru.ru_stime.tv_usec) / 1e6
}

// MARK: - Machine

/// What the figures were measured on.
struct MachineInfo {
    var cores: Int
    var model: String
    var memoryGiB: Double
    var os: String

    static func current() -> MachineInfo {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let kib =
            meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first }
            .flatMap { Double($0) } ?? 0
        let osRelease = (try? String(contentsOfFile: "/etc/os-release", encoding: .utf8)) ?? ""
        let os =
            osRelease.split(separator: "\n").first { $0.hasPrefix("PRETTY_NAME=") }
            .map { $0.dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
            ?? "unknown OS"
        return MachineInfo(
            cores: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), model: model, memoryGiB: kib / 1024 / 1024, os: os)
    }

    static var buildConfiguration: String {
        #if DEBUG
            "debug"
        #else
            "release"
        #endif
    }
}

// MARK: - CPU of the processes around the benchmark

/// CPU time of process groups (by command name) and of the whole machine, read from /proc, to see
/// which of broker, database, service and benchmark saturates during a phase.
struct CPUSnapshot {
    /// Clock ticks (utime + stime) of each process of a group, by pid: a group's use is the sum of
    /// its processes' increments (a process that exits between two snapshots — a parallel query
    /// worker, an autovacuum worker — takes its ticks away from a group's total, it does not
    /// make it negative; what it used since the first snapshot is lost).
    var ticks: [String: [Int32: UInt64]]
    /// Clock ticks of every other process, by pid, with its command name. (By pid, not by name: a
    /// kernel worker's name carries the work queue it last ran, `kworker/u8:2-writeback`, and
    /// changes between snapshots — keyed by name, its whole lifetime counted as a phase's use.)
    var others: [Int32: (comm: String, ticks: UInt64)]
    /// Machine-wide busy and total ticks from /proc/stat.
    var busy: UInt64
    var total: UInt64
    var at: ContinuousClock.Instant
    /// The service groups, in the order to report them.
    var services: [String] = []

    /// Groups: the service's pid, the broker (`beam.smp`), the database server (`postgres`: its own
    /// processes and the backends of `database`), this process.
    static func take(servicePID: Int32?, database: String? = nil) -> CPUSnapshot {
        take(services: [("commercial", servicePID ?? -1)], database: database)
    }

    /// The same with several services, each its own group under its name.
    static func take(services: [(String, Int32)], database: String? = nil) -> CPUSnapshot {
        var ticks: [String: [Int32: UInt64]] = ["beam.smp": [:], "postgres": [:], "otbench": [:]]
        var servicePIDs: [Int32: String] = [:]
        for (name, pid) in services {
            ticks[name] = [:]
            servicePIDs[pid] = name
        }
        var others: [Int32: (comm: String, ticks: UInt64)] = [:]
        let me = getpid()
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") {
            for entry in entries {
                guard let pid = Int32(entry) else { continue }
                guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                    let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")")
                else { continue }
                let comm = String(stat[stat.index(after: open)..<close])
                // Fields after the command: state(3) ppid(4) … utime(14) stime(15).
                let rest = stat[stat.index(after: close)...].split(separator: " ")
                guard rest.count > 13, let u = UInt64(rest[11]), let s = UInt64(rest[12]) else { continue }
                var group: String? =
                    pid == me ? "otbench" : servicePIDs[pid] ?? (comm == "beam.smp" ? "beam.smp" : comm == "postgres" ? "postgres" : nil)
                if group == "postgres", let database {
                    // Backends of other databases (other people's tests) are not ours; the
                    // server's own processes (WAL writer, checkpointer, …) are counted.
                    let cmdline = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
                    let isBackend = cmdline.contains("127.0.0.1(") || cmdline.contains("[local]") || cmdline.contains("::1(")
                    if isBackend && !cmdline.contains(" \(database) ") { group = nil }
                }
                if let g = group {
                    ticks[g, default: [:]][pid] = u + s
                } else if u + s > 0 {
                    others[pid] = (comm, u + s)
                }
            }
        }
        var busy: UInt64 = 0
        var total: UInt64 = 0
        if let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") })
        {
            let v = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
            total = v.prefix(8).reduce(0, +)  // user nice system idle iowait irq softirq steal
            busy = total - (v.count > 4 ? v[3] + v[4] : 0)
        }
        return CPUSnapshot(ticks: ticks, others: others, busy: busy, total: total, at: .now, services: services.map(\.0))
    }

    /// Per group: percent of one core between `earlier` and this snapshot; plus machine busy %.
    func usage(since earlier: CPUSnapshot) -> CPUUsage {
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        let wall = seconds(at - earlier.at)
        var percent: [String: Double] = [:]
        for (g, pids) in ticks {
            let before = earlier.ticks[g] ?? [:]
            let used = pids.reduce(UInt64(0)) { sum, p in sum + (p.value &- min(before[p.key] ?? 0, p.value)) }
            percent[g] = Double(used) / hz / wall * 100
        }
        var busiest: [(String, Double)] = []
        for (pid, now) in others {
            let before = min(earlier.others[pid]?.ticks ?? 0, now.ticks)
            let pc = Double(now.ticks - before) / hz / wall * 100
            if pc >= 3 { busiest.append(("\(now.comm)[\(pid)]", pc)) }
        }
        busiest.sort { $0.1 > $1.1 }
        let dt = Double(total &- earlier.total)
        return CPUUsage(
            percentOfCore: percent, machineBusyPercent: dt > 0 ? Double(busy &- earlier.busy) / dt * 100 : 0,
            busiestOthers: Array(busiest.prefix(3)), services: services)
    }
}

struct CPUUsage {
    var percentOfCore: [String: Double]
    var machineBusyPercent: Double
    /// Other processes using at least 3% of a core, busiest first.
    var busiestOthers: [(String, Double)] = []
    /// The service groups, in report order.
    var services: [String] = ["commercial"]

    var summary: String {
        let order = services + ["postgres", "beam.smp", "otbench"]
        var parts = order.map { "\($0) \(Int(percentOfCore[$0] ?? 0))%" }
        // Whatever else ran meanwhile (other builds or tests on a shared machine), from /proc/stat.
        let cores = Double(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let other = machineBusyPercent * cores - order.reduce(0) { $0 + (percentOfCore[$1] ?? 0) }
        let named = busiestOthers.map { "\($0.0) \(Int($0.1))%" }.joined(separator: ", ")
        parts.append("other \(Int(max(0, other)))%" + (named.isEmpty ? "" : " [\(named)]"))
        return parts.joined(separator: ", ") + " (100% = one core); machine busy \(Int(machineBusyPercent))% of \(Int(cores)) cores"
    }
}

// MARK: - Subprocesses

/// The folder of this executable: the other binaries of the same build live there.
func buildFolder() -> URL {
    let exe = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
    return exe.resolvingSymlinksInPath().deletingLastPathComponent()
}

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program to completion, capturing its output (small outputs only).
func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> CommandResult {
    let p = Process()
    if executable.contains("/") {
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
    } else {
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [executable] + arguments
    }
    if let environment { p.environment = environment }
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Outputs here are small (well under a pipe buffer): read stdout, then stderr, to the end.
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return CommandResult(
        status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
}

/// Calls the RabbitMQ management HTTP API with curl; returns the HTTP status.
@discardableResult
func management(_ method: String, _ base: String, _ path: String, user: String, password: String, json: String? = nil)
    throws -> Int
{
    var args = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "\(user):\(password)", "-X", method]
    if let json { args += ["-H", "content-type: application/json", "-d", json] }
    args.append(base + path)
    let r = try run("curl", args)
    return Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
}

/// Runs one SQL statement with psql against the given database, as the URL's user.
func psql(_ url: DatabaseEndpoint, database: String, _ sql: String) throws -> CommandResult {
    var env = ProcessInfo.processInfo.environment
    env["PGPASSWORD"] = url.password
    env["PGCONNECT_TIMEOUT"] = "10"
    return try run(
        "psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", url.host, "-p", "\(url.port)", "-U", url.user, "-d", database, "-At", "-c", sql],
        environment: env)
}

/// PostgreSQL server address and credentials (no database).
struct DatabaseEndpoint {
    var host: String
    var port: Int
    var user: String
    var password: String

    init(_ string: String) throws {
        guard let c = URLComponents(string: string), ["postgres", "postgresql"].contains(c.scheme ?? "") else {
            throw BenchError("expected postgres://user:password@host:port, got \(string)")
        }
        host = c.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        port = c.port ?? 5432
        user = c.user?.removingPercentEncoding ?? "ot"
        password = c.password?.removingPercentEncoding ?? ""
    }

    func url(database: String) -> String {
        let pw = password.addingPercentEncoding(withAllowedCharacters: .urlPasswordAllowed) ?? password
        let u = user.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? user
        return "postgres://\(u):\(pw)@\(host):\(port)/\(database)"
    }
}

// MARK: - Formatting

func fmtInt(_ v: Double) -> String {
    guard v.isFinite else { return "–" }
    let n = Int(v.rounded())
    let digits = String(abs(n))
    var out = ""
    for (i, c) in digits.reversed().enumerated() {
        if i > 0 && i % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return (n < 0 ? "-" : "") + String(out.reversed())
}

func fmt(_ v: Double, _ decimals: Int) -> String {
    guard v.isFinite else { return "–" }
    return String(format: "%.\(decimals)f", v)
}

/// A text table with a header row, columns right-aligned except the first.
func table(_ rows: [[String]]) -> String {
    guard let first = rows.first else { return "" }
    var widths = Array(repeating: 0, count: first.count)
    for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
    func line(_ r: [String]) -> String {
        r.enumerated().map { i, c in
            let pad = String(repeating: " ", count: widths[i] - c.count)
            return i == 0 ? c + pad : pad + c
        }.joined(separator: "  ")
    }
    var out = [line(first)]
    out.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
    out += rows.dropFirst().map(line)
    return out.joined(separator: "\n")
}

extension OutgoingMessage {
    /// The message stamped with the broker user that publishes it (`user_id`).
    func published(by user: String) -> OutgoingMessage {
        var m = self
        m.properties.userId = user
        return m
    }
}

/// Publishes `messages` paced at `rate` per second from `start`: every `tick` the ones that have
/// fallen due go out in one slice (a wake-up and a publish call per message would cost the load
/// generator a fifth of a core at 2,000 messages/s, on the cores the system under test uses).
/// Returns each message's scheduled instant (`start + i / rate`) — a latency measured from it
/// counts the wait for its tick against the system, never in its favour — and the rate the
/// publish calls achieved (first to last slice). Throws when any is not confirmed (`what` names
/// them in the error).
func pacedPublish(
    _ pub: AMQPConnection, _ messages: [OutgoingMessage], rate: Double, start: ContinuousClock.Instant, what: String,
    tick: Duration = .milliseconds(2)
) async throws -> (scheduled: [ContinuousClock.Instant], achievedRate: Double) {
    let count = messages.count
    let intervalNanos = 1e9 / rate
    func scheduled(_ i: Int) -> ContinuousClock.Instant { start + .nanoseconds(Int64(Double(i) * intervalNanos)) }
    return try await withThrowingTaskGroup(
        of: Int.self, returning: (scheduled: [ContinuousClock.Instant], achievedRate: Double).self
    ) { group in
        var next = 0
        var first: (ContinuousClock.Instant, Int)?
        var last: (ContinuousClock.Instant, Int)?
        while next < count {
            let elapsed = seconds(ContinuousClock.now - start)
            let due = elapsed < 0 ? 0 : min(count, Int(elapsed * rate) + 1)
            if due > next {
                let slice = Array(messages[next..<due])
                let now = ContinuousClock.now
                if first == nil { first = (now, next) }
                last = (now, next)
                group.addTask { try await pub.publish(slice).filter { $0 != .confirmed }.count }
                next = due
            }
            if next < count {
                try await Task.sleep(until: max(scheduled(next), .now + tick), tolerance: .zero, clock: .continuous)
            }
        }
        var unconfirmed = 0
        for try await bad in group { unconfirmed += bad }
        if unconfirmed > 0 { throw BenchError("\(unconfirmed) paced \(what) not confirmed") }
        var achieved = Double.nan
        if let first, let last, last.1 > first.1 { achieved = Double(last.1 - first.1) / seconds(last.0 - first.0) }
        return ((0..<count).map(scheduled), achieved)
    }
}

/// p50 / p99 / max of some latencies (the nearest-rank percentiles).
struct LatencySummary {
    var p50: Double
    var p99: Double
    var max: Double

    init(_ values: [Double]) {
        let v = values.sorted()
        func pct(_ p: Double) -> Double { v.isEmpty ? .nan : v[min(v.count - 1, Int((p * Double(v.count)).rounded(.up)) - 1)] }
        p50 = pct(0.5)
        p99 = pct(0.99)
        max = v.last ?? .nan
    }

    /// "p50 / p99 / max" in milliseconds with one decimal.
    var text: String { "\(fmt(p50, 1)) / \(fmt(p99, 1)) / \(fmt(max, 1))" }
}

/// A progress line on standard error (the report goes to standard output).
func progress(_ s: String) { FileHandle.standardError.write(Data("[otbench] \(s)\n".utf8)) }

/// A TCP connection to 127.0.0.1:`port` with Nagle off (the benches' HTTP clients); `receiveTimeout`
/// seconds bound every read (0: none), so a server that never answers fails the request.
func loopbackSocket(port: Int, receiveTimeout: Int = 0) throws -> Int32 {
    let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard s >= 0 else { throw BenchError("socket: \(String(cString: strerror(errno)))") }
    var one: Int32 = 1
    _ = setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    if receiveTimeout > 0 {
        var timeout = timeval(tv_sec: receiveTimeout, tv_usec: 0)
        _ = setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let r = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard r == 0 else {
        let why = String(cString: strerror(errno))
        _ = Glibc.close(s)
        throw BenchError("connect to 127.0.0.1:\(port): \(why)")
    }
    return s
}
