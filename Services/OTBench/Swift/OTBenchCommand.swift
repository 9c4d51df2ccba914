import AMQP
import ArgumentParser
import Dispatch
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

@main
struct OTBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "otbench",
        abstract: "Benchmarks the AMQP wrapper against plain rabbitmq-c, the commercial hop, full OT lifecycles, the billing batch and damage reports.",
        discussion: """
            Part 1 (raw): the C baseline (amqp-c-baseline) and the Swift wrapper publish N persistent messages \
            with confirms into a quorum queue, then consume them with grouped acks, on the same broker.
            Part 2 (hop): starts the `commercial` binary of this build folder against a throwaway vhost and \
            database, measures workorder.open → workorder.opened throughput, then latency at half that rate; \
            then its floor: the same commands through an in-process relay that publishes a workorder.opened \
            per command (confirms, acks, batches of 64, four in flight) with no service and no database, its \
            latency paced at the hop's rate.
            Part 3 (lifecycle): starts commercial, approval, dispatch and billing on a throwaway vhost and \
            database; a reactive driver takes N project OTs from workorder.open to billing.invoice-issued \
            (assign, outcome, close and prefactura review sent as the events arrive): lifecycles/s and per-hop \
            p50/p99/max.
            Part 4 (billing): starts billing alone; N workorder.closed events → billing.prefactura-issued, in \
            closed-OT events/s; then its floor: the same events through an in-process relay that publishes \
            a prepared prefactura-issued per event (confirms, acks, four batches in flight) with no service \
            and no database — what the broker and the clients alone allow on this machine.
            Damage: starts commercial and priority; N damage.report commands for N distinct products \
            → damage.registered and a repair OT → workorder.opened → workorder.prioritized: reports/s and \
            report → prioritized p50/p99/max, then the same latency paced at half that rate.
            Records: starts records (its document store in a temporary directory, its endpoint on a free port); \
            N complete files registered → records.archived in registrations/s; then D documents of M MiB declared by \
            their files, uploaded and downloaded back over HTTP on loopback (a few connections): MiB/s each way, \
            per-request p50/p99, every download's SHA-256 checked.
            Console: starts console (its HTTP side on a free port, one user and one API token); N OTs' events \
            (workorder.opened as commercial, workorder.prioritized as priority, workorder.dispatched and \
            workorder.assigned as dispatch; all open) → its read model, in events/s until N views hold their last \
            event, against the lifecycle benchmark's event rate; then the board with N open OTs (GET /board, \
            /board/rows, filtered, signed in): p50/p99/max against 200 ms; then GET /api/v1/workorders?limit=50 and \
            /api/v1/workorders/{id} with a bearer token, open-loop at R requests/s for S seconds (latency from the \
            scheduled send) against p99 < 20 ms, and wrk on the list when installed.
            Service tunables (PREFETCH, BATCH_SIZE, BATCH_WAIT_MS, WORKERS, DB_POOL_SIZE, OUTBOX_BATCH) pass \
            through from the environment or --service-env.
            """)

    @Option(help: "Broker for the raw part; its host, port and credentials also serve the hop (own vhost).")
    var amqpURL = "amqp://guest:guest@localhost:5672/%2F"
    @Option(help: "RabbitMQ management API (throwaway vhost for the hop).")
    var managementURL = "http://localhost:15672"
    @Option(help: "PostgreSQL server and a role with CREATEDB (throwaway database for the hop).")
    var postgresURL = "postgres://ot:ot-local@127.0.0.1:5432"

    @Option(help: "Raw part: messages to publish and consume.")
    var messages = 100_000
    @Option(help: "Raw part: message body size in bytes.")
    var size = 300
    @Option(help: "Publishes between waits for confirms (raw part and hop throughput).")
    var confirmBatch = 1000
    @Option(help: "Raw part: consumer prefetch (acks with multiple every prefetch/4).")
    var prefetch: UInt16 = 500

    @Option(help: "Hop: commands for the throughput measurement.")
    var commands = 20_000
    @Option(help: "Hop: length of the paced latency measurement, seconds (0 skips it).")
    var latencySeconds = 10.0
    @Option(help: "Hop: at most this many paced commands (0 skips the latency measurement).")
    var latencyCommands = 10_000
    @Option(help: "Hop: paced rate in commands/s (default: half the measured throughput).")
    var latencyRate: Double?
    @Option(name: .customLong("service-env"), help: "Hop: KEY=VALUE for the service's environment (repeatable).")
    var serviceEnv: [String] = []
    @Flag(help: "Hop: print a `top` frame taken during the throughput measurement.")
    var top = false

    @Option(help: "Lifecycle: complete OTs opened at once and driven to their invoice.")
    var lifecycles = 2_000
    @Option(help: "Billing: workorder.closed events published into billing.")
    var closed = 20_000

    @Flag(help: "Skip the C baseline.")
    var skipC = false
    @Flag(help: "Skip the Swift wrapper raw run.")
    var skipWrapper = false
    @Flag(help: "Skip the commercial hop.")
    var skipHop = false
    @Flag(help: "Skip the hop's floor (the same commands through a relay with no service and no database, paced at the hop's rate).")
    var skipHopFloor = false
    @Flag(help: "Skip the full lifecycles.")
    var skipLifecycle = false
    @Flag(help: "Skip the billing batch.")
    var skipBilling = false
    @Flag(help: "Skip the billing batch's floor (the same events through a relay with no service and no database).")
    var skipBillingFloor = false
    @Option(help: "Post-sale: requests driven through to completion.")
    var postsaleRequests = 5_000
    @Option(help: "Post-sale: contracts the requests are spread over.")
    var postsaleContracts = 500
    @Option(help: "Billing cycle: contracts billed by one run.")
    var cycleContracts = 100_000
    @Flag(help: "Skip the post-sale requests.")
    var skipPostsale = false
    @Flag(help: "Skip the billing cycle.")
    var skipCycle = false
    @Option(help: "Damage: damage reports (distinct products) driven through to a prioritized repair OT.")
    var damages = 20_000
    @Option(help: "Damage: length of the paced latency measurement, seconds (0 skips it).")
    var damageLatencySeconds = 10.0
    @Flag(help: "Skip the damage reports.")
    var skipDamage = false
    @Option(help: "Records: complete files registered (records.register) through to records.archived.")
    var records = 10_000
    @Option(help: "Records: documents uploaded to the document store and downloaded back.")
    var documents = 64
    @Option(help: "Records: size of each document, MiB (also the service's DOCUMENTS_MAX_BYTES).")
    var documentMb = 4
    @Option(help: "Records: concurrent HTTP connections for the uploads and the downloads.")
    var documentConnections = 4
    @Flag(help: "Skip the records service (registrations, document uploads and downloads).")
    var skipRecords = false
    @Option(help: "Console: OTs whose events the console's read model ingests (all stay open), then on its board.")
    var consoleOts = 100_000
    @Option(help: "Console: length of the paced API run, seconds (0 skips it).")
    var consoleSeconds = 20.0
    @Option(help: "Console: rate of the paced API run, requests/s.")
    var consoleRate = 500.0
    @Flag(help: "Skip the console (read-model ingest, board, API).")
    var skipConsole = false

    func validate() throws {
        guard messages > 0, size >= 0, confirmBatch > 0, prefetch > 0, commands > 0, lifecycles > 0, closed > 0, damages > 0, records > 0,
            documents > 0, documentMb > 0, documentConnections > 0, consoleOts > 0, consoleRate > 0, consoleSeconds >= 0
        else {
            throw ValidationError("counts must be positive")
        }
        // The documents are held in memory twice (sent, and received for the check).
        guard documents * documentMb <= 4096 else { throw ValidationError("--documents × --document-mb must be at most 4096 MiB") }
        for kv in serviceEnv where !kv.contains("=") { throw ValidationError("--service-env expects KEY=VALUE, got \(kv)") }
    }

    func run() async throws {
        var logger = Logger(label: "otbench")
        logger.logLevel = .warning
        let url = try AMQPURL(string: amqpURL)
        let pg = try DatabaseEndpoint(postgresURL)

        let janitor = Janitor()
        // Ctrl-C / SIGTERM: stop the service and drop the throwaway vhost and database first.
        let signals = [Int32(SIGINT), Int32(SIGTERM)].map { (sig: Int32) -> any DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                FileHandle.standardError.write(Data("\notbench: interrupted, cleaning up\n".utf8))
                janitor.runAll()
                Glibc.exit(130)
            }
            source.resume()
            return source
        }
        defer { for s in signals { s.cancel() } }

        let m = MachineInfo.current()
        print("otbench — \(MachineInfo.buildConfiguration) build")
        print(
            "machine: \(m.cores) × \(m.model), \(fmt(m.memoryGiB, 1)) GiB RAM, \(m.os)"
                + " — RabbitMQ \(rabbitVersion(url)), PostgreSQL \(postgresVersion(pg))")
        let before = CPUSnapshot.take(servicePID: nil)
        try await Task.sleep(for: .seconds(1))
        let idle = CPUSnapshot.take(servicePID: nil).usage(since: before).machineBusyPercent
        print("machine busy before start: \(Int(idle))% of all cores\(idle > 20 ? " — something else is running: figures will be low" : "")")
        print("")

        if !(skipC && skipWrapper) {
            print(
                "Raw AMQP: \(fmtInt(Double(messages))) × \(size)-byte persistent messages, quorum queue, mandatory, "
                    + "confirms every \(fmtInt(Double(confirmBatch))), consume prefetch \(prefetch) with acks every \(max(1, Int(prefetch) / 4))")
            var c: WrapperBench.Result?
            var w: WrapperBench.Result?
            if !skipC {
                progress("raw: C baseline …")
                c = try CBaseline(url: url, messages: messages, size: size, confirmBatch: confirmBatch, prefetch: prefetch).run()
            }
            if !skipWrapper {
                progress("raw: Swift wrapper …")
                w = try await WrapperBench(url: url, messages: messages, size: size, confirmBatch: confirmBatch, prefetch: prefetch)
                    .run(logger: logger)
            }
            print(rawTable(c: c, w: w))
            print("")
        }

        var env: [String: String] = [:]
        for kv in serviceEnv {
            let parts = kv.split(separator: "=", maxSplits: 1)
            env[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        // The console's read model is compared with the lifecycles' event rate of this run, if any.
        var lifecycleRate: Double?
        if !skipHop {
            progress("hop: starting commercial, \(fmtInt(Double(commands))) commands …")
            let hop = HopBench(
                amqpURL: url, managementURL: managementURL, postgres: pg, commands: commands, confirmBatch: confirmBatch,
                latencySeconds: latencySeconds, latencyCommands: latencyCommands, latencyRate: latencyRate,
                serviceEnvironment: env, showTop: top, logger: logger)
            let (r, floor) = try await hop.runWithFloor(skipFloor: skipHopFloor, janitor: janitor) { f, r in
                // The floor is paced at the service's rate.
                f.latencyRate = r.latency?.targetRate ?? f.latencyRate
            }
            print(hopReport(r, floor: floor))
        }

        if !skipLifecycle {
            if !skipHop { print("") }
            progress("lifecycle: starting commercial, approval, dispatch, billing; \(fmtInt(Double(lifecycles))) OTs …")
            let bench = LifecycleBench(
                amqpURL: url, managementURL: managementURL, postgres: pg, lifecycles: lifecycles, confirmBatch: confirmBatch,
                serviceEnvironment: env, logger: logger)
            let r = try await bench.run(janitor: janitor)
            lifecycleRate = r.rate
            print(lifecycleReport(r))
        }

        if !skipBilling {
            if !(skipHop && skipLifecycle) { print("") }
            progress("billing: starting billing; \(fmtInt(Double(closed))) workorder.closed events …")
            let bench = BillingBench(
                amqpURL: url, managementURL: managementURL, postgres: pg, closed: closed, confirmBatch: confirmBatch,
                serviceEnvironment: env, logger: logger)
            let (r, floor) = try await bench.runWithFloor(skipFloor: skipBillingFloor, janitor: janitor)
            print(billingReport(r, floor: floor))
        }
        let postSale = PostSaleBench(
            amqpURL: url, managementURL: managementURL, postgres: pg, requests: postsaleRequests, contracts: postsaleContracts, cycleContracts: cycleContracts,
            confirmBatch: confirmBatch, serviceEnvironment: env, logger: logger)
        if !skipPostsale {
            print("")
            progress("post-sale: starting postsale; \(fmtInt(Double(postsaleRequests))) requests …")
            let r = try await postSale.runRequests(janitor: janitor)
            var rows = [["", "value"]]
            rows.append(["requests/s (first publish → last request-completed)", fmtInt(r.rate)])
            rows.append(["  requests / seconds", "\(fmtInt(Double(r.requests))) / \(fmt(r.seconds, 2))"])
            rows.append(["  check (each completed once)", r.completed == r.requests ? "pass" : "FAIL"])
            print("Post-sale: \(fmtInt(Double(r.requests))) call-detail requests over \(postsaleContracts) contracts → postsale alone, each with its quality-control call → request-completed")
            print(table(rows))
            print("CPU during the run: \(r.cpu.summary)")
        }
        if !skipCycle {
            print("")
            progress("billing cycle: starting billing; \(fmtInt(Double(cycleContracts))) contracts …")
            let r = try await postSale.runCycle(janitor: janitor)
            var rows = [["", "value"]]
            rows.append(["proformas/s (run-cycle → cycle-completed)", fmtInt(r.rate)])
            rows.append(["  contracts / seconds", "\(fmtInt(Double(r.contracts))) / \(fmt(r.seconds, 2))"])
            rows.append(["  bar ≥ \(fmtInt(Self.cycleBar))/s", r.rate >= Self.cycleBar ? "met" : "NOT met"])
            rows.append(["  contract.registered learnt by billing, s", fmt(r.registerSeconds, 1)])
            rows.append(["  proforma-issued, distinct contracts, cycle-completed says", "\(fmtInt(Double(r.proformas))), \(fmtInt(Double(r.distinct))), \(r.reported)"])
            rows.append(["  check (exactly one per contract)", r.proformas == r.contracts && r.distinct == r.contracts && r.reported == r.contracts ? "pass" : "FAIL"])
            print("Billing cycle: \(fmtInt(Double(r.contracts))) contracts → billing alone → one billing.run-cycle")
            print(table(rows))
            print("CPU during the run: \(r.cpu.summary)")
        }
        if !skipDamage {
            print("")
            progress("damage: starting commercial, priority; \(fmtInt(Double(damages))) damage reports …")
            let bench = DamageBench(
                amqpURL: url, managementURL: managementURL, postgres: pg, damages: damages, confirmBatch: confirmBatch,
                latencySeconds: damageLatencySeconds, serviceEnvironment: env, logger: logger)
            print(damageReport(try await bench.run(janitor: janitor)))
        }
        if !skipRecords {
            print("")
            progress("records: starting records; \(fmtInt(Double(records))) registrations …")
            let bench = RecordsBench(
                amqpURL: url, managementURL: managementURL, postgres: pg, registrations: records, documents: documents, documentMiB: documentMb,
                connections: documentConnections, confirmBatch: confirmBatch, serviceEnvironment: env, logger: logger)
            print(recordsReport(try await bench.run(janitor: janitor)))
        }
        if !skipConsole {
            print("")
            progress("console: starting console; \(fmtInt(Double(consoleOts))) OTs …")
            let bench = ConsoleBench(
                amqpURL: url, managementURL: managementURL, postgres: pg, workOrders: consoleOts, apiSeconds: consoleSeconds,
                apiRate: consoleRate, confirmBatch: confirmBatch, serviceEnvironment: env, logger: logger)
            print(consoleReport(try await bench.run(janitor: janitor), lifecycleRate: lifecycleRate))
        }
    }

    /// Events on `ot.events` per complete lifecycle (opened, approved, dispatched, assigned,
    /// attended, closed, prefactura issued and approved, invoice, and the odd survey or travel
    /// budget): about 10.
    static let eventsPerLifecycle = 10.0
    /// The lifecycle rate the README reports (2026-12-02: 250–286 complete lifecycles/s).
    static let readmeLifecycleRate = 290.0
    static let boardBar = 200.0
    static let apiBarRate = 500.0
    static let apiBarP99 = 20.0

    private func consoleReport(_ r: ConsoleBench.Result, lifecycleRate: Double?) -> String {
        let g = r.ingest
        var lines = [
            "Console read model: \(fmtInt(Double(g.workOrders))) OTs' events (workorder.opened as commercial, workorder.prioritized as priority "
                + "for repairs and installations, workorder.dispatched and workorder.assigned as dispatch; BO/CL/CO, every kind, levels 1–4, "
                + "deadlines over the next 4 days), published in blocks of \(fmtInt(Double(ConsoleBench.block))) OTs → console alone",
            "service: \(r.tunables)",
        ]
        let reference = (lifecycleRate ?? Self.readmeLifecycleRate) * Self.eventsPerLifecycle
        let referenceText =
            lifecycleRate.map { "this run's \(fmtInt($0)) lifecycles/s × \(fmtInt(Self.eventsPerLifecycle))" }
            ?? "README's ≈ \(fmtInt(Self.readmeLifecycleRate)) lifecycles/s × \(fmtInt(Self.eventsPerLifecycle))"
        var rows = [["", "value"]]
        rows.append(["events/s (first publish → N views in their last state, every event on a timeline)", fmtInt(g.rate)])
        rows.append(["  events / OTs / seconds", "\(fmtInt(Double(g.events))) / \(fmtInt(Double(g.workOrders))) / \(fmt(g.seconds, 2))"])
        rows.append([
            "  opened, prioritized, dispatched, assigned",
            "\(fmtInt(Double(g.opened))), \(fmtInt(Double(g.prioritized))), \(fmtInt(Double(g.dispatched))), \(fmtInt(Double(g.assigned)))",
        ])
        rows.append(["  publish + confirm alone, events/s", fmtInt(Double(g.events) / g.publishSeconds)])
        rows.append(["  lifecycle event rate (\(referenceText)), events/s", fmtInt(reference)])
        rows.append(["  keeps up (≥ that rate)", g.rate >= reference ? "met (\(fmt(g.rate / reference, 1))×)" : "NOT met (\(fmt(g.rate / reference, 2))×)"])
        rows.append(["  CPU per event: console / PostgreSQL / RabbitMQ, ms", "\(fmt(g.cpuPerEvent("console"), 3)) / \(fmt(g.cpuPerEvent("postgres"), 3)) / \(fmt(g.cpuPerEvent("beam.smp"), 3))"])
        rows.append(["  check (N views assigned or dispatched, one timeline line per event)", "pass (\(fmtInt(Double(g.historyLines))) lines)"])
        lines.append(table(rows))
        lines.append("CPU during the ingest: \(g.cpu.summary)")

        let b = r.board
        lines.append("")
        lines.append(
            "Board with \(fmtInt(Double(g.workOrders))) open OTs (\(fmtInt(Double(b.breached))) breached): sequential GETs on one keep-alive "
                + "connection, session cookie from POST /login, \(ConsoleBench.boardRequests) each after \(ConsoleBench.boardWarmUp) untimed")
        var t = [["GET", "rows / matching", "KiB", "p50 / p99 / max ms", "< \(fmtInt(Self.boardBar)) ms (p99)"]]
        for c in b.cases {
            t.append([
                c.path, "\(c.rows) / \(fmtInt(Double(c.total)))", fmt(Double(c.bytes) / 1024, 1), c.latency.text,
                c.latency.p99 < Self.boardBar ? "met" : "NOT met",
            ])
        }
        lines.append(table(t))
        let st = b.settled
        lines.append(
            "measured \(fmt(st.seconds, 0)) s after the ingest, \(st.gaveUp ? "autovacuum NOT settled (gave up)" : "once autovacuum had settled")"
                + " (autovacuum runs so far: \(st.autovacuums)): console.aggregates \(fmt(st.tableMiB, 0)) MiB, ≈ \(fmtInt(Double(st.live))) live / "
                + "\(fmtInt(Double(st.dead))) dead tuples (statistics)")
        lines.append("check: every answer 200, X-Board-Total as the workload says, a full page (100 rows, or all that match)")
        lines.append("CPU during the board GETs: \(b.cpu.summary)")
        lines.append("EXPLAIN ANALYZE of ConsoleStore.board's statements in the bench database (warm):")
        for e in b.explained { lines.append("  \(e.what): \(fmt(e.milliseconds, 1)) ms — \(e.plan)") }
        // Where the time goes when the bar is missed: the plans in full.
        if b.cases.contains(where: { !($0.latency.p99 < Self.boardBar) }) {
            for e in b.explained {
                lines.append("  --- \(e.what) ---")
                lines += e.output.map { "  \($0)" }
            }
        }

        if let p = r.paced {
            lines.append("")
            lines.append(
                "API open-loop at \(fmtInt(p.targetRate)) requests/s for \(fmt(p.seconds, 0)) s: GET /api/v1/workorders?limit=50 and "
                    + "GET /api/v1/workorders/{random id} in turn, bearer token, \(ConsoleBench.apiConnections) keep-alive connections; "
                    + "latency from each request's scheduled send")
            var a = [["", "value"]]
            a.append(["achieved rate, requests/s (target)", "\(fmtInt(p.achievedRate)) (\(fmtInt(p.targetRate)))"])
            a.append(["  scheduled / answered 200 / errors / not sent (fell behind)", "\(fmtInt(Double(p.scheduled))) / \(fmtInt(Double(p.completed))) / \(p.errors) / \(fmtInt(Double(p.notSent)))"])
            a.append(["  all p50 / p99 / max ms", p.all.text])
            a.append(["  list (limit=50) p50 / p99 / max ms", p.list.text])
            a.append(["  one OT p50 / p99 / max ms", p.detail.text])
            a.append(["  list, send → last byte (no queueing) p50 / p99 / max ms", p.listService.text])
            a.append(["  one OT, send → last byte (no queueing) p50 / p99 / max ms", p.detailService.text])
            let met = p.targetRate >= Self.apiBarRate && p.notSent == 0 && p.errors == 0 && p.achievedRate >= 0.95 * p.targetRate
                && p.all.p99 < Self.apiBarP99
            a.append(["  bar \(fmtInt(Self.apiBarRate))/s with p99 < \(fmtInt(Self.apiBarP99)) ms", met ? "met" : "NOT met"])
            lines.append(table(a))
            if let e = p.errorSample { lines.append("first error: \(e)") }
            lines.append("CPU while paced: \(p.cpu.summary)")
        }
        lines.append("")
        func wrkTable(_ w: ConsoleBench.Wrk, bar: Bool) -> String {
            var k = [["", "value"]]
            k.append(["requests/s", fmt(w.requestsPerSecond, 1)])
            k.append(["  requests / seconds", "\(fmtInt(Double(w.requests))) / \(fmt(w.seconds, 2))"])
            k.append(["  p50 / p75 / p90 / p99 / max ms", "\(fmt(w.p50, 1)) / \(fmt(w.p75, 1)) / \(fmt(w.p90, 1)) / \(fmt(w.p99, 1)) / \(fmt(w.max, 1))"])
            k.append(["  non-2xx, socket errors", "\(w.non2xx), \(w.socketErrors ?? "none")"])
            if bar {
                let met = w.requestsPerSecond >= 0.95 * Self.apiBarRate && w.p99 < Self.apiBarP99 && w.non2xx == 0 && w.socketErrors == nil
                k.append(["  bar \(fmtInt(Self.apiBarRate))/s with p99 < \(fmtInt(Self.apiBarP99)) ms", met ? "met" : "NOT met"])
            }
            return table(k)
        }
        if let w = r.wrk {
            lines.append("wrk \(ConsoleBench.wrkArguments.joined(separator: " ")) GET /api/v1/workorders?limit=50 (bearer token; closed loop)")
            lines.append(wrkTable(w, bar: false))
            lines.append("CPU during wrk: \(w.cpu.summary)")
        }
        if let w = r.wrkPaced {
            lines.append("")
            lines.append(
                "wrk \(ConsoleBench.wrkArguments.joined(separator: " ")) -s delay.lua (each connection waits \(ConsoleBench.wrkPacedDelayMilliseconds) ms "
                    + "between an answer and its next request: about the bar's rate; wrk's latency, not from a schedule)")
            lines.append(wrkTable(w, bar: true))
            lines.append("CPU during paced wrk: \(w.cpu.summary)")
        }
        if let note = r.wrkNote { lines.append("wrk: \(note)") }
        return lines.joined(separator: "\n")
    }

    private func recordsReport(_ r: RecordsBench.Result) -> String {
        let g = r.registrations
        var lines = [
            "Records: \(fmtInt(Double(g.files))) complete files (records.register as crm; sale, post-sale and OT folders, distinct cases) "
                + "published at once → records alone → records.archived",
            "service: \(r.tunables)",
        ]
        var rows = [["", "value"]]
        rows.append(["registrations/s (first publish → last records.archived)", fmtInt(g.rate)])
        rows.append(["  files / seconds", "\(fmtInt(Double(g.files))) / \(fmt(g.seconds, 2))"])
        rows.append(["  publish + confirm alone, files/s", fmtInt(Double(g.files) / g.publishSeconds)])
        rows.append(["  archived (distinct, events), returned, rejected", "\(fmtInt(Double(g.archived))), \(fmtInt(Double(g.archivedEvents))), \(g.returned), \(g.rejected)"])
        rows.append(["  check (exactly N archived, none returned or rejected)", "pass"])
        lines.append(table(rows))
        lines.append("CPU during the registrations: \(g.cpu.summary)")
        let u = r.upload
        let d = r.download
        lines.append("")
        lines.append(
            "Document store over HTTP/1.1 on loopback: \(u.requests) files registered declaring one document each (random bytes, "
                + "\(fmt(Double(r.maxBytes) / 1_048_576, 0)) MiB, DOCUMENTS_MAX_BYTES the same), then PUT /files/{fileId}/documents/{sha256} "
                + "and GET /documents/{sha256}, \(documentConnections) keep-alive connections (raw-socket client, a thread each)")
        var t = [["", "upload (PUT)", "download (GET)"]]
        t.append(["MiB/s (first request → last byte)", fmt(u.mibPerSecond, 1), fmt(d.mibPerSecond, 1)])
        t.append(["  documents / MiB / seconds", "\(u.requests) / \(fmtInt(Double(u.bytes) / 1_048_576)) / \(fmt(u.seconds, 2))", "\(d.requests) / \(fmtInt(Double(d.bytes) / 1_048_576)) / \(fmt(d.seconds, 2))"])
        t.append(["  per request p50 / p99 / max ms", u.latency.text, d.latency.text])
        t.append(["  check", "all 201; \(r.objects) objects, \(r.temporaries) temporaries", "\(r.verified) of \(d.requests) SHA-256 verified"])
        lines.append(table(t))
        lines.append("files registered and archived before the uploads: \(fmt(r.documentFilesSeconds, 2)) s")
        lines.append("CPU during the uploads:   \(u.cpu.summary)")
        lines.append("CPU during the downloads: \(d.cpu.summary)")
        return lines.joined(separator: "\n")
    }

    static let lifecycleBar = 400.0
    static let damageBar = 1_000.0

    private func damageReport(_ r: DamageBench.Result) -> String {
        let b = r.burst
        var lines = [
            "Damage reports: \(fmtInt(Double(b.damages))) damage.report (distinct products, residential, mixed types and channels) published at once "
                + "→ priority (damage.registered, workorder.open) → commercial (workorder.opened) → priority (workorder.prioritized)",
            "services: \(r.tunables)",
        ]
        var rows = [["", "value"]]
        rows.append(["reports/s (first publish → last repair OT prioritized)", fmtInt(b.rate)])
        rows.append(["  reports / seconds", "\(fmtInt(Double(b.damages))) / \(fmt(b.seconds, 2))"])
        rows.append(["  bar ≥ \(fmtInt(Self.damageBar))/s", b.rate >= Self.damageBar ? "met" : "NOT met"])
        rows.append(["  publish + confirm alone, reports/s", fmtInt(Double(b.damages) / b.publishSeconds)])
        rows.append(["  report → prioritized p50 / p99 / max ms (burst)", "\(fmt(b.latency.p50, 1)) / \(fmt(b.latency.p99, 1)) / \(fmt(b.latency.max, 1))"])
        let levels = b.levels.keys.sorted().map { "\($0): \(fmtInt(Double(b.levels[$0] ?? 0)))" }.joined(separator: ", ")
        rows.append(["  levels", levels])
        rows.append(["  new damages, OTs prioritized, duplicates", "\(fmtInt(Double(b.registeredNew))), \(fmtInt(Double(b.prioritized))), \(b.duplicates)"])
        rows.append(["  check (N new damages, N OTs prioritized, 0 rejected)", "pass"])
        if let p = r.paced {
            rows.append(["paced rate, reports/s (target), after the burst settled", "\(fmtInt(p.achievedRate)) (\(fmtInt(p.targetRate))), \(fmt(p.settleSeconds, 0)) s later"])
            rows.append(["  paced reports", fmtInt(Double(p.damages))])
            rows.append(["  report → prioritized p50 / p99 / max ms (paced)", "\(fmt(p.latency.p50, 1)) / \(fmt(p.latency.p99, 1)) / \(fmt(p.latency.max, 1))"])
        }
        lines.append(table(rows))
        lines.append("CPU during the burst: \(b.cpu.summary)")
        if let p = r.paced { lines.append("CPU while paced:      \(p.cpu.summary)") }
        return lines.joined(separator: "\n")
    }
    static let billingBar = 10_000.0
    static let cycleBar = 5_000.0

    private func lifecycleReport(_ r: LifecycleBench.Result) -> String {
        var lines = [
            "Full lifecycles: \(fmtInt(Double(r.lifecycles))) project OTs opened at once, open → invoice through commercial, "
                + "approval, dispatch, billing (reactive driver: assign, outcome, close, review on the events)",
            "services: \(r.tunables)",
        ]
        var rows = [["", "value"]]
        rows.append(["complete lifecycles/s", fmtInt(r.rate)])
        rows.append(["  lifecycles / seconds (first open → last invoice)", "\(fmtInt(Double(r.lifecycles))) / \(fmt(r.seconds, 2))"])
        rows.append(["  bar ≥ \(fmtInt(Self.lifecycleBar))/s", r.rate >= Self.lifecycleBar ? "met" : "NOT met"])
        let ok = r.invoices == r.lifecycles && r.distinctWorkOrders == r.lifecycles && r.rejected == 0
        rows.append(["  invoices, distinct OTs, command.rejected", "\(fmtInt(Double(r.invoices))), \(fmtInt(Double(r.distinctWorkOrders))), \(r.rejected)"])
        rows.append(["  checks (N invoices, N OTs, 0 rejected)", ok ? "pass" : "FAIL"])
        if r.reviewRetries > 0 { rows.append(["  reviews refused notFound, re-sent", "\(r.reviewRetries)"]) }
        rows.append(["  duplicate events ignored", "\(r.duplicates)"])
        lines.append(table(rows))
        var hops = [["hop", "p50 ms", "p99 ms", "max ms"]]
        for h in r.hops { hops.append([h.name, fmt(h.p50, 1), fmt(h.p99, 1), fmt(h.max, 1)]) }
        lines.append(table(hops))
        if let sample = r.rejectionSample { lines.append("first rejection: \(sample)") }
        lines.append("CPU during the run: \(r.cpu.summary)")
        return lines.joined(separator: "\n")
    }

    private func billingReport(_ r: BillingBench.Result, floor f: BillingBench.Result?) -> String {
        var lines = [
            "Billing batch: \(fmtInt(Double(r.events))) workorder.closed events (ot.events) → billing alone → billing.prefactura-issued",
            "service: \(r.tunables)",
        ]
        var rows = [["", "value"]]
        rows.append(["closed-OT events/s (first publish → last prefactura)", fmtInt(r.rate)])
        rows.append(["  events / seconds", "\(fmtInt(Double(r.events))) / \(fmt(r.seconds, 2))"])
        rows.append(["  bar ≥ \(fmtInt(Self.billingBar))/s", r.rate >= Self.billingBar ? "met" : "NOT met"])
        rows.append(["  publish + confirm alone, events/s", fmtInt(Double(r.events) / r.publishSeconds)])
        rows.append(["  prefactura-issued, distinct OTs, duplicates", "\(fmtInt(Double(r.prefacturas))), \(fmtInt(Double(r.distinctWorkOrders))), \(r.duplicates)"])
        rows.append(["  check (exactly N)", r.distinctWorkOrders == r.events && r.duplicates == 0 ? "pass" : "FAIL"])
        if let f {
            rows.append(["floor: relay without service or database, events/s", fmtInt(f.rate)])
            rows.append(["  events / seconds", "\(fmtInt(Double(f.events))) / \(fmt(f.seconds, 2))"])
            rows.append(["  publish + confirm alone, events/s", fmtInt(Double(f.events) / f.publishSeconds)])
            rows.append(["  check (exactly N)", f.distinctWorkOrders == f.events && f.duplicates == 0 ? "pass" : "FAIL"])
        }
        lines.append(table(rows))
        lines.append("CPU during the run: \(r.cpu.summary)")
        if let f { lines.append("CPU during the floor: \(f.cpu.summary)") }
        return lines.joined(separator: "\n")
    }

    private func rawTable(c: WrapperBench.Result?, w: WrapperBench.Result?) -> String {
        func v(_ r: WrapperBench.Result?, _ f: (WrapperBench.Result) -> String) -> String { r.map(f) ?? "–" }
        func ratio(_ f: (WrapperBench.Result) -> Double) -> String {
            guard let c, let w else { return "–" }
            return fmt(f(w) / f(c), 2)
        }
        let n = Double(messages)
        return table([
            ["", "C (rabbitmq-c)", "Swift wrapper", "wrapper/C"],
            ["publish + confirm, msg/s", v(c) { fmtInt($0.publishRate) }, v(w) { fmtInt($0.publishRate) }, ratio { $0.publishRate }],
            ["consume + ack, msg/s", v(c) { fmtInt($0.consumeRate) }, v(w) { fmtInt($0.consumeRate) }, ratio { $0.consumeRate }],
            ["CPU seconds (user+sys)", v(c) { fmt($0.cpuSeconds, 2) }, v(w) { fmt($0.cpuSeconds, 2) }, ratio { $0.cpuSeconds }],
            ["msg (pub+con) per CPU-second", v(c) { fmtInt(n / $0.cpuSeconds) }, v(w) { fmtInt(n / $0.cpuSeconds) }, ratio { n / $0.cpuSeconds }],
        ])
    }

    private func hopReport(_ r: HopBench.Result, floor f: HopBench.Result?) -> String {
        let t = r.throughput
        var lines = [
            "Commercial hop: workorder.open (ot.commands) → commercial → workorder.opened (ot.events → quorum queue)",
            "service: \(r.tunables)",
        ]
        var rows = [["", "value"]]
        rows.append(["throughput, commands/s", fmtInt(t.rate)])
        rows.append(["  commands / seconds", "\(fmtInt(Double(t.commands))) / \(fmt(t.seconds, 2))"])
        rows.append(["  distinct workOrderIds, duplicates", "\(fmtInt(Double(t.distinctWorkOrders))), \(t.duplicates)"])
        if let l = r.latency {
            rows.append(["latency rate, commands/s (target)", "\(fmtInt(l.achievedRate)) (\(fmtInt(l.targetRate)))"])
            rows.append(["  paced commands", fmtInt(Double(l.commands))])
            rows.append(["  p50 ms", fmt(l.p50, 1)])
            rows.append(["  p99 ms", fmt(l.p99, 1)])
            rows.append(["  max ms", fmt(l.max, 1)])
            rows.append(["  send → batch start p50 / p99 ms", "\(fmt(l.toBatch.p50, 1)) / \(fmt(l.toBatch.p99, 1))"])
            rows.append(["  batch start → event p50 / p99 ms", "\(fmt(l.fromBatch.p50, 1)) / \(fmt(l.fromBatch.p99, 1))"])
        }
        if let f {
            rows.append(["floor (relay, no service or database), commands/s", fmtInt(f.throughput.rate)])
            if let l = f.latency {
                rows.append(["  paced at, commands/s", fmtInt(l.achievedRate)])
                rows.append(["  p50 / p99 / max ms", "\(fmt(l.p50, 1)) / \(fmt(l.p99, 1)) / \(fmt(l.max, 1))"])
            }
        }
        lines.append(table(rows))
        lines.append("CPU during throughput: \(t.cpu.summary)")
        if let l = r.latency { lines.append("CPU during latency:    \(l.cpu.summary)") }
        if let f {
            lines.append("CPU during the floor's throughput: \(f.throughput.cpu.summary)")
            if let l = f.latency { lines.append("CPU during the floor's latency:    \(l.cpu.summary)") }
        }
        if let top = t.top { lines.append("top during throughput:\n\(top)") }
        return lines.joined(separator: "\n")
    }

    private func rabbitVersion(_ url: AMQPURL) -> String {
        guard
            let r = try? OTBench.run("curl", ["-s", "-m", "5", "-u", "\(url.user):\(url.password)", managementURL + "/api/overview"]),
            let json = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any],
            let v = json["rabbitmq_version"] as? String
        else { return "?" }
        return v
    }

    private func postgresVersion(_ pg: DatabaseEndpoint) -> String {
        guard let r = try? psql(pg, database: "postgres", "SHOW server_version"), r.status == 0 else { return "?" }
        return r.stdout.split(separator: " ").first.map(String.init)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
    }
}
