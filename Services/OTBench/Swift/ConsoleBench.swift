import AMQP
import ConsoleUI
import Contracts
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The console alone on a throwaway vhost and database, its HTTP side on a free loopback port (read
/// from its log), one user (password hash of few iterations) and one API token configured:
/// - ingest: N OTs' events published on `ot.events` as their owners publish them —
///   `workorder.opened` as `commercial`, `workorder.prioritized` as `priority` (repairs and
///   installations), `workorder.dispatched` and, for some, `workorder.assigned` as `dispatch` — in
///   blocks of 1,000 OTs (each block's openings, then its prioritizations, dispatches and
///   assignments, each group confirmed before the next, so an OT's events reach the console in its
///   lifecycle's order and ~1,000 messages apart). The OTs spread over BO/CL/CO, every kind, three
///   service lines, levels 1–4 and deadlines over the next four days (2 % already passed); all stay
///   open. The figure is events/s from the first publish to the moment the console's schema holds
///   N work-order views in their last state (assigned or dispatched) and one timeline line per event;
/// - board: with those N open OTs, sequential GETs on one keep-alive connection with the session
///   cookie of `POST /login`: `/board` (the whole page), `/board/rows` and filtered boards, each
///   answer checked (200, the total the filter must match);
/// - API: `GET /api/v1/workorders?limit=50` and `GET /api/v1/workorders/{id}` (random OTs) in turn
///   with a bearer token, open-loop at R requests/s for S seconds over a few keep-alive connections;
///   each latency runs from the request's scheduled send time, so time spent waiting for a free
///   connection counts; then `wrk` on the list, when it is installed.
struct ConsoleBench {
    static let service = "console"
    static let user = "otbench"
    /// OTs per publishing block.
    static let block = 1_000
    /// Timed GETs of each board variant (after a few untimed ones).
    static let boardRequests = 100
    static let boardWarmUp = 5
    /// Keep-alive connections of the paced API run.
    static let apiConnections = 8
    /// What `wrk` runs.
    static let wrkArguments = ["-t2", "-c8", "-d10s", "--latency"]

    var amqpURL: AMQPURL
    var managementURL: String
    var postgres: DatabaseEndpoint
    var workOrders: Int
    /// Length of the paced API run, seconds (0 skips it).
    var apiSeconds: Double
    var apiRate: Double
    var confirmBatch: Int
    var serviceEnvironment: [String: String]
    var logger: Logger

    struct Ingest {
        var workOrders: Int
        var events: Int
        var opened: Int
        var prioritized: Int
        var dispatched: Int
        var assigned: Int
        var seconds: Double
        var publishSeconds: Double
        var historyLines: Int
        var cpu: CPUUsage
        var rate: Double { Double(events) / seconds }

        /// CPU milliseconds per event of a process group.
        func cpuPerEvent(_ group: String) -> Double { (cpu.percentOfCore[group] ?? 0) / 100 * seconds * 1000 / Double(events) }
    }

    struct BoardCase {
        var path: String
        var latency: LatencySummary
        var bytes: Int
        /// Rows on the page, OTs matching the filter (X-Board-Total), and how many should.
        var rows: Int
        var total: Int
        var expected: Int
    }

    struct Explained {
        var what: String
        var milliseconds: Double
        /// The plan's nodes, outermost first, and the whole output.
        var plan: String
        var output: [String]
    }

    /// The read model's table when the board was measured.
    struct Settled {
        /// From the end of the ingest until no autovacuum ran in the database and at most 20 % of the
        /// table's tuples were dead (or the wait gave up).
        var seconds: Double
        var gaveUp: Bool
        var live: Int
        var dead: Int
        var autovacuums: Int
        var tableMiB: Double
    }

    struct Board {
        var settled: Settled
        var cases: [BoardCase]
        var breached: Int
        var cpu: CPUUsage
        var explained: [Explained]
    }

    struct Paced {
        var targetRate: Double
        var seconds: Double
        var scheduled: Int
        /// Requests never sent: the run stops sending once it is far behind its schedule.
        var notSent: Int
        var completed: Int
        var achievedRate: Double
        var all: LatencySummary
        var list: LatencySummary
        var detail: LatencySummary
        /// From the send to the last byte (no queueing): the lists, the single OTs.
        var listService: LatencySummary
        var detailService: LatencySummary
        var errors: Int
        var errorSample: String?
        var cpu: CPUUsage
    }

    struct Wrk {
        var requestsPerSecond: Double
        var requests: Int
        var seconds: Double
        /// Milliseconds.
        var p50: Double
        var p75: Double
        var p90: Double
        var p99: Double
        var max: Double
        var non2xx: Int
        var socketErrors: String?
        var cpu: CPUUsage
    }

    struct Result {
        var tunables: String
        var ingest: Ingest
        var board: Board
        var paced: Paced?
        var wrk: Wrk?
        /// `wrk` held near the API's bar rate: each connection waits ``wrkPacedDelayMilliseconds`` between
        /// an answer and its next request.
        var wrkPaced: Wrk?
        /// Why `wrk` did not run, or what it said when it failed.
        var wrkNote: String?
    }

    func run(janitor: Janitor) async throws -> Result {
        let password = ConsoleSecrets.randomToken(bytes: 12)
        let token = ConsoleSecrets.randomToken()
        var environment = serviceEnvironment
        environment["CONSOLE_HTTP_HOST"] = "127.0.0.1"
        environment["CONSOLE_HTTP_PORT"] = "0"
        // Few PBKDF2 rounds: the sign-in is not what is measured.
        environment["CONSOLE_USERS"] = "\(Self.user):viewer:\(PasswordHash.make(password: password, iterations: 1_000))"
        environment["CONSOLE_TOKENS"] = "otbench-api:viewer:\(ConsoleSecrets.tokenHash(token))"
        // The HTTP port is only in the info-level "console listening" line.
        if environment["OTBENCH_SERVICE_LOG_LEVEL"] == nil && ProcessInfo.processInfo.environment["OTBENCH_SERVICE_LOG_LEVEL"] == nil {
            environment["OTBENCH_SERVICE_LOG_LEVEL"] = "info"
        }
        let driver = PostSaleBench(
            amqpURL: amqpURL, managementURL: managementURL, postgres: postgres, requests: 0, contracts: 0, cycleContracts: 0,
            confirmBatch: confirmBatch, serviceEnvironment: environment, logger: logger)
        return try await driver.measuring(
            Self.service, as: [("commercial", "otbench-commercial"), ("dispatch", "otbench-dispatch"), ("priority", "otbench-priority")],
            janitor: janitor
        ) { cluster, connections in
            try await measure(driver, cluster, connections, password: password, token: token)
        }
    }

    private func measure(_ driver: PostSaleBench, _ cluster: ServiceCluster, _ connections: [AMQPConnection], password: String, token: String)
        async throws -> Result
    {
        let tunables = HopBench.tunableDefaults.map { k, d in "\(k)=\(cluster.environment[k] ?? d)" }.joined(separator: " ")
        let workload = try Self.workload(count: workOrders, now: Date(), driver)
        let ingest = try await ingest(driver, cluster, connections, workload)

        let port = try await httpPort(cluster)
        progress("console: waiting for autovacuum to settle the read model …")
        let settled = try await settle(cluster)
        progress("console: board with \(fmtInt(Double(workOrders))) open OTs …")
        let board = try await board(cluster, port: port, password: password, workload: workload, settled: settled)
        var paced: Paced?
        if apiSeconds > 0 {
            progress("console: API paced at \(fmtInt(apiRate))/s for \(fmt(apiSeconds, 0)) s …")
            paced = await self.paced(cluster, port: port, token: token, ids: workload.ids)
        }
        var wrk: Wrk?
        var wrkPaced: Wrk?
        var wrkNote: String?
        if let path = Self.wrkPath() {
            progress("console: wrk \(Self.wrkArguments.joined(separator: " ")) …")
            do { wrk = try await runWrk(path, cluster, port: port, token: token) } catch { wrkNote = "\(error)" }
            progress("console: wrk with \(Self.wrkPacedDelayMilliseconds) ms between requests …")
            do { wrkPaced = try await runWrk(path, cluster, port: port, token: token, paced: true) } catch { wrkNote = "\(error)" }
        } else {
            wrkNote = "wrk is not installed (apt-get install wrk; bench.sh installs it)"
        }
        return Result(tunables: tunables, ingest: ingest, board: board, paced: paced, wrk: wrk, wrkPaced: wrkPaced, wrkNote: wrkNote)
    }

    // MARK: The workload

    /// One OT of the workload: what the checks need.
    struct WorkOrderSpec: Sendable {
        var id: String
        var country: String
        var kind: String
        var level: Int
        var prioritized: Bool
        var assigned: Bool
    }

    /// A group of events published by one user (index into the connections) before the next.
    struct Stage {
        var connection: Int
        var messages: [OutgoingMessage]
    }

    struct Workload {
        var specs: [WorkOrderSpec]
        var stages: [Stage]
        var ids: [String] { specs.map(\.id) }
        var events: Int { stages.reduce(0) { $0 + $1.messages.count } }

        func count(country: String? = nil, kind: String? = nil, level: Int? = nil) -> Int {
            specs.filter { s in
                (country.map { s.country == $0 } ?? true) && (kind.map { s.kind == $0 } ?? true) && (level.map { s.level == $0 } ?? true)
            }.count
        }
    }

    /// A small deterministic generator (SplitMix64), so that runs compare.
    struct Mix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    }

    static let connectionCommercial = 0, connectionDispatch = 1, connectionPriority = 2

    /// N open OTs and their events, in blocks of ``block`` OTs.
    static func workload(count: Int, now: Date, _ driver: PostSaleBench) throws -> Workload {
        let kinds = WorkOrderKind.allCases
        let lines: [ServiceLine] = [.csv, .spot, .gep]
        let countries = Country.allCases
        let segments = Segment.allCases
        let hour = 3600.0
        var specs: [WorkOrderSpec] = []
        specs.reserveCapacity(count)
        var stages: [Stage] = []
        var mix = Mix(state: 0x0C05_01E5)
        var first = 0
        while first < count {
            let end = min(first + block, count)
            var opened: [OutgoingMessage] = [], prioritized: [OutgoingMessage] = [], dispatched: [OutgoingMessage] = []
            var assigned: [OutgoingMessage] = []
            for i in first..<end {
                let id = UUID().uuidString.lowercased()
                let kind = kinds[mix.below(kinds.count)]
                let country = countries[i % countries.count]
                let level = 1 + mix.below(4)
                let publicSector = mix.unit() < 0.1
                let customerNumber = mix.below(5_000)
                let customer = Customer(
                    id: "C-\(customerNumber)", name: "Cliente \(customerNumber) S.R.L.", taxId: "\(1_000_000 + customerNumber)",
                    sector: publicSector ? .public : .private, segment: segments[mix.below(segments.count)], country: country)
                let dueBy = publicSector ? now.addingTimeInterval(Double(1 + mix.below(10)) * 24 * hour) : nil
                opened.append(
                    try driver.message(
                        WorkOrderOpened(
                            workOrderId: id, number: String(format: "OT-B-%07d", i), kind: kind, serviceLine: lines[mix.below(lines.count)],
                            customer: customer,
                            documents: [
                                Document(kind: .offer, uri: "s3://ot-docs/\(id)/offer.pdf", sha256: nil),
                                Document(kind: .purchaseOrder, uri: "s3://ot-docs/\(id)/purchase-order.pdf", sha256: nil),
                            ], dueBy: dueBy), by: "commercial"))
                // The priority matrix rates repairs and installations (their products).
                let isPrioritized = kind == .repair || kind == .installation
                if isPrioritized {
                    let deadline = now.addingTimeInterval(Double(12 * level) * hour - mix.unit() * 6 * hour)
                    prioritized.append(
                        try driver.message(
                            WorkOrderPrioritized(workOrderId: id, level: level, deadline: deadline, reason: "Matriz de prioridad, nivel \(level)"),
                            by: "priority"))
                }
                // Contact deadlines over the next four days; 2 % already passed (breached).
                let contactBy =
                    mix.unit() < 0.02 ? now.addingTimeInterval(-(1 + mix.unit() * 47) * hour) : now.addingTimeInterval(mix.unit() * 96 * hour)
                dispatched.append(
                    try driver.message(
                        WorkOrderDispatched(
                            workOrderId: id, priority: level, contactBy: contactBy, dueBy: dueBy, publicSector: publicSector,
                            contactSLA: kind == .project), by: "dispatch"))
                let isAssigned = mix.unit() < 0.4
                if isAssigned {
                    let t = mix.below(60)
                    assigned.append(
                        try driver.message(
                            WorkOrderAssigned(
                                workOrderId: id, assignee: Assignee(id: "T-\(t)", name: "Técnico \(t)", role: "technician"),
                                scheduledFor: contactBy.addingTimeInterval(2 * hour)), by: "dispatch"))
                }
                specs.append(
                    WorkOrderSpec(
                        id: id, country: country.rawValue, kind: kind.rawValue, level: level, prioritized: isPrioritized, assigned: isAssigned))
            }
            stages.append(Stage(connection: connectionCommercial, messages: opened))
            stages.append(Stage(connection: connectionPriority, messages: prioritized))
            stages.append(Stage(connection: connectionDispatch, messages: dispatched))
            stages.append(Stage(connection: connectionDispatch, messages: assigned))
            first = end
        }
        return Workload(specs: specs, stages: stages.filter { !$0.messages.isEmpty })
    }

    // MARK: 1. Ingest

    /// The console's queue of events, from its declared routes.
    static let inputQueue = ServiceCluster.inputQueues(of: service).first { $0.hasSuffix(".events") } ?? "\(service).events"

    private func ingest(_ driver: PostSaleBench, _ cluster: ServiceCluster, _ connections: [AMQPConnection], _ w: Workload) async throws
        -> Ingest
    {
        let n = w.specs.count
        let assigned = w.specs.filter(\.assigned).count
        let prioritized = w.specs.filter(\.prioritized).count
        let events = w.events
        progress("console: \(fmtInt(Double(events))) events of \(fmtInt(Double(n))) OTs …")
        let session = try PsqlSession(postgres, database: cluster.name)
        defer { session.close() }
        let statusSQL = """
            SELECT (SELECT count(*) FROM console.aggregates WHERE kind = 'workorder' AND status = 'assigned'),
                   (SELECT count(*) FROM console.aggregates WHERE kind = 'workorder' AND status = 'dispatched')
            """
        let historySQL = "SELECT count(*) FROM console.history WHERE kind = 'workorder'"

        let cpu0 = CPUSnapshot.take(services: cluster.pids, database: cluster.name)
        let start = ContinuousClock.now
        for stage in w.stages { try await driver.publish(connections[stage.connection], stage.messages) }
        let publishSeconds = seconds(.now - start)

        // Until every view is in its last state and every event is on a timeline. While the
        // console's queue still holds ready events, only the queue is looked at (every 50 ms,
        // nothing asked of PostgreSQL); then the read model is counted every 20 ms. The counts
        // scan every view (once most OTs are in their last state a full scan is the right plan),
        // and polling them throughout put the benchmark's own cost into the console's figures.
        var last = -1
        var lastChange = ContinuousClock.now
        var history = 0
        var doneAt: ContinuousClock.Instant
        var queueDrained = false
        while true {
            var progressCount: Int
            var state: String
            if !queueDrained {
                let ready = Int(try await connections[0].queueStatus(Self.inputQueue).messages)
                queueDrained = ready == 0
                progressCount = -ready
                state = "\(ready) events still ready in \(Self.inputQueue)"
            } else {
                progressCount = 0
                state = ""
            }
            if queueDrained {
                let row = try session.lines(statusSQL).first?.split(separator: "|").compactMap { Int($0) } ?? []
                let (a, d) = row.count == 2 ? (row[0], row[1]) : (0, 0)
                if a >= assigned && d >= n - assigned {
                    history = Int(try session.lines(historySQL).first ?? "") ?? 0
                    if history >= events {
                        doneAt = .now
                        break
                    }
                }
                progressCount = a + d + history
                state = "\(a) of \(assigned) views assigned, \(d) of \(n - assigned) dispatched, \(history) of \(events) timeline lines"
            }
            if progressCount != last {
                last = progressCount
                lastChange = .now
            }
            try cluster.checkRunning()
            guard ContinuousClock.now - lastChange < .seconds(120) else {
                throw BenchError("stalled: \(state) (a rejected event goes to console.dead: see the console's log)")
            }
            try await Task.sleep(for: queueDrained ? .milliseconds(20) : .milliseconds(50))
        }
        let cpu = CPUSnapshot.take(services: cluster.pids, database: cluster.name).usage(since: cpu0)
        // Nothing more may arrive: exactly one line per event.
        try await Task.sleep(for: .milliseconds(500))
        history = Int(try session.lines(historySQL).first ?? "") ?? 0
        guard history == events else { throw BenchError("expected \(events) timeline lines, found \(history)") }
        return Ingest(
            workOrders: n, events: events, opened: n, prioritized: prioritized, dispatched: n, assigned: assigned,
            seconds: seconds(doneAt - start), publishSeconds: publishSeconds, historyLines: history, cpu: cpu)
    }

    // MARK: 2. Board

    /// Waits (at most 180 s) until the bulk ingest's aftermath is over: every OT's row was rewritten
    /// about 2.7 times, and right after the ingest autovacuum and the first reads (hint bits) compete
    /// with the board — a live console is measured in its steady state instead.
    private func settle(_ cluster: ServiceCluster) async throws -> Settled {
        let session = try PsqlSession(postgres, database: cluster.name)
        defer { session.close() }
        let sql = """
            SELECT n_live_tup, n_dead_tup, autovacuum_count, pg_table_size('console.aggregates'),
                   (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'autovacuum worker')
            FROM pg_stat_user_tables WHERE schemaname = 'console' AND relname = 'aggregates'
            """
        let start = ContinuousClock.now
        while true {
            let v = try session.lines(sql).first?.split(separator: "|").map { Int($0) ?? 0 } ?? []
            guard v.count == 5 else { throw BenchError("no statistics for console.aggregates") }
            let elapsed = seconds(.now - start)
            let settled = v[4] == 0 && v[1] * 5 <= v[0]
            if settled || elapsed > 180 {
                return Settled(
                    seconds: elapsed, gaveUp: !settled, live: v[0], dead: v[1], autovacuums: v[2], tableMiB: Double(v[3]) / 1_048_576)
            }
            try cluster.checkRunning()
            try await Task.sleep(for: .seconds(1))
        }
    }

    private func board(_ cluster: ServiceCluster, port: Int, password: String, workload w: Workload, settled: Settled) async throws -> Board {
        let variants: [(path: String, expected: Int)] = [
            ("/board", w.specs.count), ("/board/rows", w.specs.count), ("/board?country=CL", w.count(country: "CL")),
            ("/board?level=2", w.count(level: 2)), ("/board?kind=repair&country=BO", w.count(country: "BO", kind: "repair")),
            ("/board/rows?kind=repair&country=BO", w.count(country: "BO", kind: "repair")),
        ]
        let user = Self.user
        let requests = Self.boardRequests, warmUp = Self.boardWarmUp
        let outcome = Box(([BoardCase](), breached: 0, failure: String?.none))
        let cpu0 = CPUSnapshot.take(services: cluster.pids, database: cluster.name)
        await onThreads(1) {
            let http = ConsoleHTTPClient(port: port)
            defer { http.close() }
            do {
                let form = "username=\(user)&password=\(password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? password)&next=%2Fboard"
                let login = try http.request(
                    "POST", "/login", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array(form.utf8))
                guard login.status == 303, let setCookie = login.header("set-cookie"), setCookie.hasPrefix("ot_session="),
                    let value = setCookie.split(separator: ";").first
                else { throw BenchError("POST /login answered \(login.status) without a session cookie: \(login.text.prefix(200))") }
                let cookie = [("Cookie", String(value))]
                var cases: [BoardCase] = []
                var breached = 0
                for (path, expected) in variants {
                    // The total the filter matches, from the rows' headers (untimed).
                    let rowsPath = path.hasPrefix("/board/rows") ? path : path.replacingOccurrences(of: "/board", with: "/board/rows")
                    let probe = try http.request("GET", rowsPath, headers: cookie)
                    guard probe.status == 200, let total = probe.header("x-board-total").flatMap({ Int($0) }) else {
                        throw BenchError("GET \(rowsPath) answered \(probe.status): \(probe.text.prefix(200))")
                    }
                    if path == "/board/rows" { breached = probe.header("x-board-breached").flatMap { Int($0) } ?? -1 }
                    guard total == expected else { throw BenchError("GET \(rowsPath): X-Board-Total \(total), expected \(expected)") }
                    var latencies: [Double] = []
                    var bytes = 0, rows = 0
                    for k in 0..<(warmUp + requests) {
                        let t = ContinuousClock.now
                        let r = try http.request("GET", path, headers: cookie)
                        let ms = seconds(.now - t) * 1000
                        guard r.status == 200 else { throw BenchError("GET \(path) answered \(r.status): \(r.text.prefix(200))") }
                        if k >= warmUp { latencies.append(ms) }
                        bytes = r.body.count
                        rows = Self.occurrences(of: Array("<tr data-ot=".utf8), in: r.body)
                    }
                    guard rows == min(100, expected) else { throw BenchError("GET \(path) shows \(rows) rows, expected \(min(100, expected))") }
                    cases.append(
                        BoardCase(path: path, latency: LatencySummary(latencies), bytes: bytes, rows: rows, total: total, expected: expected))
                }
                outcome.value.withLock {
                    $0.0 = cases
                    $0.breached = breached
                }
            } catch {
                outcome.value.withLock { $0.failure = "\(error)" }
            }
        }
        let cpu = CPUSnapshot.take(services: cluster.pids, database: cluster.name).usage(since: cpu0)
        let o = outcome.value.withLock { $0 }
        if let failure = o.failure { throw BenchError(failure) }
        return Board(settled: settled, cases: o.0, breached: o.breached, cpu: cpu, explained: try explain(cluster))
    }

    static func occurrences(of needle: [UInt8], in haystack: [UInt8]) -> Int {
        guard !needle.isEmpty, haystack.count >= needle.count else { return 0 }
        var n = 0
        var i = 0
        let first = needle[0]
        while i <= haystack.count - needle.count {
            if haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) {
                n += 1
                i += needle.count
            } else {
                i += 1
            }
        }
        return n
    }

    /// The board's two statements as `ConsoleStore.board` sends them (its parameters as literals:
    /// keep in step with it), under `EXPLAIN ANALYZE` in the bench database: the second of two runs
    /// (warm).
    private func explain(_ cluster: ServiceCluster) throws -> [Explained] {
        let now = "'\(Wire.timestamp(Date()))'"
        // ConsoleStore.boardWhere: only the filters given.
        func filters(country: String?, kind: String?) -> String {
            var clauses = ["kind = 'workorder'", "board_numbered", "status NOT IN ('closed', 'rejected', 'cancelled')"]
            if let c = country { clauses.append("board_country = '\(c)'") }
            if let k = kind { clauses.append("board_kind = '\(k)'") }
            return "WHERE " + clauses.joined(separator: " AND ")
        }
        func page(_ country: String?, _ kind: String? = nil) -> String {
            "SELECT id, data->>'number', data->>'deadline' FROM console.aggregates \(filters(country: country, kind: kind)) ORDER BY board_level, board_deadline, id LIMIT 100 OFFSET 0"
        }
        func counts(_ country: String?, _ kind: String? = nil) -> String {
            """
            SELECT count(*)::int8, (count(*) FILTER (WHERE board_breached OR board_deadline < \(now)))::int8
            FROM console.aggregates \(filters(country: country, kind: kind))
            """
        }
        let statements = [
            ("page query (100 rows)", page(nil)), ("count query", counts(nil)), ("page query, country=CL", page("CL")),
            ("count query, country=CL", counts("CL")), ("page query, kind=repair&country=BO", page("BO", "repair")),
            ("count query, kind=repair&country=BO", counts("BO", "repair")),
        ]
        var out: [Explained] = []
        for (what, sql) in statements {
            var lines: [String] = []
            for _ in 0..<2 {
                let r = try psql(postgres, database: cluster.name, "EXPLAIN (ANALYZE, BUFFERS) \(sql)")
                guard r.status == 0 else { throw BenchError("EXPLAIN of the board's \(what): \(r.stderr)") }
                lines = r.stdout.split(separator: "\n").map(String.init)
            }
            let ms =
                lines.first { $0.hasPrefix("Execution Time:") }.flatMap { Double($0.split(separator: " ")[2]) } ?? .nan
            // The plan's nodes, outermost first, without their costs.
            let nodes = lines.filter { !$0.hasPrefix(" ") || $0.contains("->") }.compactMap { line -> String? in
                guard let cost = line.range(of: "  (cost=") else { return nil }
                return line[..<cost.lowerBound].replacingOccurrences(of: "->", with: "").trimmingCharacters(in: .whitespaces)
            }
            out.append(Explained(what: what, milliseconds: ms, plan: nodes.joined(separator: " → "), output: lines))
        }
        return out
    }

    // MARK: 3. API, paced

    private struct Sample: Sendable {
        var list: Bool
        /// From the scheduled send, and from the actual send, to the last byte.
        var fromSchedule: Double
        var service: Double
    }

    private func paced(_ cluster: ServiceCluster, port: Int, token: String, ids: [String]) async -> Paced {
        let total = max(1, Int((apiRate * apiSeconds).rounded()))
        let interval = 1 / apiRate
        // Past this, a connection stops taking new requests (the server is far behind).
        let cutoff = apiSeconds + max(apiSeconds, 10)
        let next = Box(0)
        let results = Box((samples: [Sample](), errors: 0, sample: String?.none, lastEnd: ContinuousClock.Instant?.none, started: 0))
        let auth = [("Authorization", "Bearer \(token)")]
        let cpu0 = CPUSnapshot.take(services: cluster.pids, database: cluster.name)
        let start = ContinuousClock.now + .milliseconds(50)
        await onThreads(Self.apiConnections) {
            let http = ConsoleHTTPClient(port: port)
            defer { http.close() }
            var mine: [Sample] = []
            var errors = 0, started = 0
            var sample: String?
            var lastEnd: ContinuousClock.Instant?
            while true {
                let i = next.value.withLock { n in
                    defer { n += 1 }
                    return n
                }
                guard i < total else { break }
                let due = start + .nanoseconds(Int64(Double(i) * interval * 1e9))
                let wait = due - .now
                if wait > .zero {
                    Thread.sleep(forTimeInterval: seconds(wait))
                } else if seconds(ContinuousClock.now - start) > cutoff {
                    break
                }
                started += 1
                let list = i % 2 == 0
                var mix = Mix(state: UInt64(i) &* 0x2545_F491_4F6C_DD1D)
                let path = list ? "/api/v1/workorders?limit=50" : "/api/v1/workorders/\(ids[mix.below(ids.count)])"
                let t = ContinuousClock.now
                do {
                    let r = try http.request("GET", path, headers: auth)
                    let end = ContinuousClock.now
                    lastEnd = end
                    if r.status == 200 {
                        mine.append(Sample(list: list, fromSchedule: seconds(end - due) * 1000, service: seconds(end - t) * 1000))
                    } else {
                        errors += 1
                        if sample == nil { sample = "GET \(path) answered \(r.status): \(r.text.prefix(160))" }
                    }
                } catch {
                    lastEnd = .now
                    errors += 1
                    if sample == nil { sample = "GET \(path): \(error)" }
                }
            }
            results.value.withLock { r in
                r.samples += mine
                r.errors += errors
                r.started += started
                r.sample = r.sample ?? sample
                if let e = lastEnd, r.lastEnd.map({ $0 < e }) ?? true { r.lastEnd = e }
            }
        }
        let cpu = CPUSnapshot.take(services: cluster.pids, database: cluster.name).usage(since: cpu0)
        let r = results.value.withLock { $0 }
        let wall = seconds((r.lastEnd ?? .now) - start)
        return Paced(
            targetRate: apiRate, seconds: apiSeconds, scheduled: total, notSent: total - r.started, completed: r.samples.count,
            achievedRate: Double(r.samples.count) / wall, all: LatencySummary(r.samples.map(\.fromSchedule)),
            list: LatencySummary(r.samples.filter(\.list).map(\.fromSchedule)),
            detail: LatencySummary(r.samples.filter { !$0.list }.map(\.fromSchedule)),
            listService: LatencySummary(r.samples.filter(\.list).map(\.service)),
            detailService: LatencySummary(r.samples.filter { !$0.list }.map(\.service)),
            errors: r.errors, errorSample: r.sample, cpu: cpu)
    }

    // MARK: wrk

    static func wrkPath() -> String? {
        guard let r = try? OTBench.run("sh", ["-c", "command -v wrk"]), r.status == 0 else { return nil }
        let path = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return path.isEmpty ? nil : path
    }

    /// The pause of each of wrk's 8 connections between an answer and its next request in the
    /// paced run: 8 connections × (12 ms + the answer's ~3 ms) ≈ 530 requests/s, just over the API's bar.
    static let wrkPacedDelayMilliseconds = 12

    private func runWrk(_ wrk: String, _ cluster: ServiceCluster, port: Int, token: String, paced: Bool = false) async throws -> Wrk {
        var arguments = Self.wrkArguments + ["-H", "Authorization: Bearer \(token)"]
        if paced {
            // wrk's Lua hook: the delay before each request of a connection.
            let script = FileManager.default.temporaryDirectory.appendingPathComponent("otbench-wrk-paced-\(getpid()).lua")
            try "function delay()\n  return \(Self.wrkPacedDelayMilliseconds)\nend\n".write(to: script, atomically: true, encoding: .utf8)
            arguments += ["-s", script.path]
        }
        arguments.append("http://127.0.0.1:\(port)/api/v1/workorders?limit=50")
        let command = arguments
        let outcome = Box(Swift.Result<CommandResult, BenchError>.failure(BenchError("wrk did not run")))
        let cpu0 = CPUSnapshot.take(services: cluster.pids, database: cluster.name)
        await onThreads(1) {
            let result: Swift.Result<CommandResult, BenchError>
            do { result = .success(try OTBench.run(wrk, command)) } catch { result = .failure(BenchError("\(error)")) }
            outcome.value.withLock { $0 = result }
        }
        let cpu = CPUSnapshot.take(services: cluster.pids, database: cluster.name).usage(since: cpu0)
        let r = try outcome.value.withLock { $0 }.get()
        guard r.status == 0, var parsed = Self.parseWrk(r.stdout) else {
            throw BenchError("wrk exited with \(r.status): \(r.stderr.prefix(300)) \(r.stdout.prefix(300))")
        }
        parsed.cpu = cpu
        return parsed
    }

    /// A duration as wrk prints it (`812.00us`, `12.34ms`, `1.02s`, `2.00m`), in milliseconds.
    static func wrkMilliseconds(_ s: some StringProtocol) -> Double? {
        for (unit, factor) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60_000.0)] where s.hasSuffix(unit) {
            return Double(s.dropLast(unit.count)).map { $0 * factor }
        }
        return nil
    }

    static func parseWrk(_ text: String) -> Wrk? {
        var w = Wrk(
            requestsPerSecond: .nan, requests: 0, seconds: .nan, p50: .nan, p75: .nan, p90: .nan, p99: .nan, max: .nan, non2xx: 0,
            socketErrors: nil, cpu: CPUUsage(percentOfCore: [:], machineBusyPercent: 0))
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            if line.hasPrefix("Requests/sec:"), words.count > 1 { w.requestsPerSecond = Double(words[1]) ?? .nan }
            if line.hasPrefix("Latency "), words.count >= 4 { w.max = wrkMilliseconds(words[3]) ?? .nan }
            if words.count == 2, let v = wrkMilliseconds(words[1]) {
                switch words[0] {
                case "50%": w.p50 = v
                case "75%": w.p75 = v
                case "90%": w.p90 = v
                case "99%": w.p99 = v
                default: break
                }
            }
            if words.count >= 4, words[1] == "requests", words[2] == "in" {
                w.requests = Int(words[0]) ?? 0
                w.seconds = (wrkMilliseconds(words[3].trimmingCharacters(in: CharacterSet(charactersIn: ","))) ?? .nan) / 1000
            }
            if line.hasPrefix("Non-2xx or 3xx responses:"), let n = words.last.flatMap({ Int($0) }) { w.non2xx = n }
            if line.hasPrefix("Socket errors:") { w.socketErrors = String(line.dropFirst("Socket errors:".count)).trimmingCharacters(in: .whitespaces) }
        }
        return w.requestsPerSecond.isFinite ? w : nil
    }

    // MARK: Helpers

    /// The HTTP port, from the console's "console listening" line.
    private func httpPort(_ cluster: ServiceCluster) async throws -> Int {
        let log = cluster.services[0].logPath
        for _ in 0..<100 {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.contains("console listening") }),
                let port = line.firstMatch(of: /http\.port=([0-9]+)/).flatMap({ Int($0.1) }), port > 0
            {
                return port
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError("no \"console listening\" line with http.port in \(log) (is OTBENCH_SERVICE_LOG_LEVEL above info?)")
    }
}

/// One `psql` process kept open on a database: a query costs a round trip, not a process and a
/// server backend each (the benchmark polls the read model while it is being written).
final class PsqlSession {
    private let process = Process()
    private let input: FileHandle
    private let output: FileHandle
    private var buffer = Data()
    private static let marker = "--otbench-end--"

    init(_ url: DatabaseEndpoint, database: String) throws {
        var env = ProcessInfo.processInfo.environment
        env["PGPASSWORD"] = url.password
        env["PGCONNECT_TIMEOUT"] = "10"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", "-X", "-q", "-At", "-h", url.host, "-p", "\(url.port)", "-U", url.user, "-d", database]
        process.environment = env
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        input = stdin.fileHandleForWriting
        output = stdout.fileHandleForReading
    }

    /// The output lines of one statement (none when it failed).
    func lines(_ sql: String) throws -> [String] {
        guard process.isRunning else { throw BenchError("the psql session ended (status \(process.terminationStatus))") }
        try input.write(contentsOf: Data("\(sql);\n\\echo \(Self.marker)\n".utf8))
        let end = Data("\(Self.marker)\n".utf8)
        while true {
            if let r = buffer.range(of: end) {
                let text = String(decoding: buffer[buffer.startIndex..<r.lowerBound], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex..<r.upperBound)
                return text.split(separator: "\n").map(String.init)
            }
            let data = output.availableData
            if data.isEmpty { throw BenchError("the psql session closed its output") }
            buffer.append(data)
        }
    }

    func close() {
        try? input.close()
        process.waitUntilExit()
    }
}

/// An HTTP/1.1 client over one keep-alive TCP connection to 127.0.0.1, for one thread, with
/// request headers and the response's headers (``LoopbackHTTP`` has neither): bodies framed by
/// `Content-Length` or chunked. A request on a kept-alive connection that the server had closed is
/// sent once more on a new one.
final class ConsoleHTTPClient {
    struct Response {
        var status: Int
        /// Names in lower case.
        var headers: [(name: String, value: String)]
        var body: [UInt8]

        func header(_ name: String) -> String? {
            let n = name.lowercased()
            return headers.first { $0.name == n }?.value
        }

        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// The connection ended before any byte of the response.
    private struct Closed: Error {}

    let port: Int
    private var fd: Int32 = -1
    private var pending: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 64 * 1024)

    init(port: Int) { self.port = port }

    deinit { close() }

    func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
        pending = []
    }

    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil) throws -> Response {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        let bytes = Array(head.utf8) + (body ?? [])
        for attempt in 0..<2 {
            let reused = fd >= 0
            try connectIfNeeded()
            do {
                try send(bytes)
                return try response(head: method == "HEAD")
            } catch is Closed where reused && attempt == 0 {
                close()
            }
        }
        throw BenchError("\(method) \(path): the connection closed before a response")
    }

    private func connectIfNeeded() throws {
        guard fd < 0 else { return }
        fd = try loopbackSocket(port: port, receiveTimeout: 60)
    }

    private func send(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var done = 0
            while done < buffer.count {
                let n = Glibc.send(fd, buffer.baseAddress! + done, buffer.count - done, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    let e = errno
                    close()
                    if e == EPIPE || e == ECONNRESET { throw Closed() }
                    throw BenchError("send: \(String(cString: strerror(e)))")
                }
                done += n
            }
        }
    }

    /// Appends what the socket has to `pending`; false at the end of the stream.
    private func fill() throws -> Bool {
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 {
                pending.append(contentsOf: chunk[0..<n])
                return true
            }
            if n == 0 { return false }
            if errno == EINTR { continue }
            let e = errno
            if e == ECONNRESET && pending.isEmpty {
                close()
                throw Closed()
            }
            close()
            throw BenchError(e == EAGAIN || e == EWOULDBLOCK ? "no response within 60 s" : "recv: \(String(cString: strerror(e)))")
        }
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8], from: Int = 0) -> Int? {
        guard bytes.count >= needle.count + from else { return nil }
        var i = from
        while i <= bytes.count - needle.count {
            if bytes[i] == needle[0] && bytes[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    private static let crlf: [UInt8] = [13, 10]
    private static let blankLine: [UInt8] = [13, 10, 13, 10]

    private func response(head isHead: Bool) throws -> Response {
        var headEnd: Int
        while true {
            if let i = Self.find(Self.blankLine, in: pending) {
                headEnd = i + 4
                break
            }
            let wasEmpty = pending.isEmpty
            guard try fill() else {
                close()
                if wasEmpty { throw Closed() }
                throw BenchError("the connection closed inside a response head")
            }
        }
        let lines = String(decoding: pending[0..<(headEnd - 4)], as: UTF8.self).components(separatedBy: "\r\n")
        guard let status = lines.first?.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            close()
            throw BenchError("malformed status line: \(lines.first ?? "")")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append(
                (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        func value(_ name: String) -> String? { headers.first { $0.name == name }?.value }
        var body: [UInt8] = []
        var consumed = headEnd
        if isHead || status == 204 || status == 304 || (100..<200).contains(status) {
            // No body.
        } else if let length = value("content-length").flatMap({ Int($0) }) {
            while pending.count < headEnd + length {
                guard try fill() else {
                    close()
                    throw BenchError("the connection closed inside a body")
                }
            }
            body = Array(pending[headEnd..<(headEnd + length)])
            consumed = headEnd + length
        } else if value("transfer-encoding")?.lowercased().contains("chunked") == true {
            var at = headEnd
            while true {
                guard let eol = Self.find(Self.crlf, in: pending, from: at) else {
                    guard try fill() else { throw BenchError("the connection closed inside a chunked body") }
                    continue
                }
                let sizeText = String(decoding: pending[at..<eol], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                    close()
                    throw BenchError("malformed chunk size \(sizeText)")
                }
                let dataStart = eol + 2
                // The chunk, its CRLF (for the last, zero-size one: the blank line ending the trailers).
                while pending.count < dataStart + size + 2 {
                    guard try fill() else { throw BenchError("the connection closed inside a chunk") }
                }
                if size == 0 {
                    at = dataStart + 2
                    break
                }
                body.append(contentsOf: pending[dataStart..<(dataStart + size)])
                at = dataStart + size + 2
            }
            consumed = at
        } else {
            while try fill() {}
            body = Array(pending[headEnd...])
            consumed = pending.count
            pending = []
            close()
            return Response(status: status, headers: headers, body: body)
        }
        pending.removeFirst(consumed)
        if value("connection")?.lowercased() == "close" { close() }
        return Response(status: status, headers: headers, body: body)
    }
}
