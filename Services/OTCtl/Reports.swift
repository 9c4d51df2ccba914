import Approval
import ArgumentParser
import Billing
import Commercial
import Contracts
import DispatchCenter
import Foundation
import Logging
import PostgresNIO
import Runtime

/// Where the follow-up reports read from: the platform's PostgreSQL (read-only queries).
struct DatabaseOptions: ParsableArguments {
    static let defaultURL = "postgres://ot:ot-local@127.0.0.1:5432/ot"

    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "PostgreSQL URL.", discussion: "Default: $OTCTL_DATABASE_URL, then $DATABASE_URL, then \(defaultURL).",
            valueName: "url"))
    var databaseURL: String?

    func withConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let env = ProcessInfo.processInfo.environment
        let text = [databaseURL, env["OTCTL_DATABASE_URL"], env["DATABASE_URL"]].compactMap { $0 }.first { !$0.isEmpty } ?? Self.defaultURL
        let url: DatabaseURL
        do { url = try DatabaseURL(text) } catch { throw CLIError("invalid --database-url: \(error)", exitCode: 64) }
        let config = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database,
            tls: url.requireTLS ? .require(try .init(configuration: .makeClientConfiguration())) : .disable)
        let conn: PostgresConnection
        do {
            conn = try await PostgresConnection.connect(configuration: config, id: 1, logger: Logger(label: "otctl.db"))
        } catch {
            throw CLIError("cannot connect to \(url): \(String(reflecting: error))")
        }
        do {
            let result = try await body(conn)
            try? await conn.close()
            return result
        } catch {
            try? await conn.close()
            throw error
        }
    }
}

/// The `--json` output of the reports: pretty, keys sorted, timestamps as the contract writes them.
func reportJSONEncoder() -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.dateEncodingStrategy = .custom { date, enc in
        var c = enc.singleValueContainer()
        try c.encode(Wire.timestamp(date))
    }
    return encoder
}

/// A day or a month on the command line: `2026-11` (the whole month) or `2026-11-22`.
func parsePeriod(_ text: String) throws -> (start: Date, end: Date) {
    var cal = Calendar(identifier: .gregorian)
    cal.timeZone = TimeZone(identifier: "UTC")!
    let parts = text.split(separator: "-").compactMap { Int($0) }
    switch parts.count {
    case 2:
        let start = cal.date(from: DateComponents(year: parts[0], month: parts[1], day: 1))!
        return (start, cal.date(byAdding: .month, value: 1, to: start)!)
    case 3:
        let start = cal.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2]))!
        return (start, cal.date(byAdding: .day, value: 1, to: start)!)
    default:
        if let d = Wire.parseTimestamp(text) { return (d, d) }
        throw CLIError("not a month (2026-11), a day (2026-11-22) or an RFC 3339 time: \(text)", exitCode: 64)
    }
}

/// OPE-SUM-GES-P08 steps 11–14: OTs by state for a period, cancellations with their reasons, and
/// the pole-move follow-up: requests (paid or not) in the seed's three states and the KPI
/// (attended / all requests × 100; ≥ 98 % approved, otherwise observed).
struct Report: OTCtlCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "OTs by state (REGISTRADO / ASIGNADO / ATENDIDO / ANULADO …) and the pole-move KPI.")

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "First month or day of the period (2026-11 or 2026-11-01).")
    var from: String

    @Argument(help: "Last month or day of the period, included (default: the same as FROM).")
    var to: String?

    @Option(help: "Only OTs of this kind (project, poleMove, repair, …).")
    var kind: String?

    @Flag(help: "Print JSON.")
    var json = false

    func execute() async throws {
        let start = try parsePeriod(from).start
        let end = try parsePeriod(to ?? from).end
        let kindFilter: WorkOrderKind?
        if let kind {
            guard let k = WorkOrderKind(rawValue: kind) else { throw CLIError("unknown kind \(kind)", exitCode: 64) }
            kindFilter = k
        } else {
            kindFilter = nil
        }
        let (report, kpi, surveys) = try await database.withConnection { conn in
            (
                try await stateReport(on: conn, from: start, to: end, kind: kindFilter),
                try await poleMoveFollowUp(on: conn, from: start, to: end),
                try await surveySummary(on: conn, from: start, to: end, logger: Logger(label: "otctl.report"))
            )
        }
        if json {
            let encoder = reportJSONEncoder()
            struct Output: Encodable {
                var states: StateReport
                var poleMove: PoleMoveFollowUp?
                var surveys: SurveySummary?
            }
            Console.line(String(decoding: try encoder.encode(Output(states: report, poleMove: kpi, surveys: surveys)), as: UTF8.self))
            return
        }
        Console.line("OTs first registered from \(Wire.timestamp(start)) to \(Wire.timestamp(end))\(kind.map { " (kind \($0))" } ?? "")")
        for (label, n) in [
            ("REGISTRADO", report.registrado), ("ASIGNADO", report.asignado), ("ATENDIDO", report.atendido),
            ("ATENDIDO SIN SOLUCIÓN", report.atendidoSinSolucion), ("CERRADO", report.cerrado), ("ANULADO", report.anulado),
            ("RECHAZADO", report.rechazado), ("total", report.total),
        ] {
            Console.line("  \(label.padding(toLength: 22, withPad: " ", startingAt: 0)) \(n)")
        }
        if !report.cancellations.isEmpty {
            Console.line("ANULADO — reasons (review and corrective action, step 11):")
            for c in report.cancellations { Console.line("  \(c.workOrderId)  \(Wire.timestamp(c.at))  \(c.reason)") }
        }
        if let kpi {
            Console.line("Pole-move requests registered in the period, paid or not (OPE-SUM-GES-P08 step 10.1):")
            for (label, n) in [("REGISTRADO", kpi.registrado), ("ATENDIDO", kpi.atendido), ("ANULADO", kpi.anulado), ("total", kpi.total)] {
                Console.line("  \(label.padding(toLength: 22, withPad: " ", startingAt: 0)) \(n)")
            }
            for c in kpi.cancellations {
                Console.line("  ANULADO \(c.workOrderId)  \(c.reason)  — corrective action: \(c.correctiveAction ?? "not recorded yet")")
            }
            let percent = kpi.kpi.percent.map { String(format: "%.1f %%", $0) } ?? "-"
            Console.line("Pole-move KPI: \(kpi.kpi.attended) attended / \(kpi.kpi.total) requests = \(percent) → \(kpi.kpi.verdict.rawValue) (≥ 98 % approved)")
        } else {
            Console.line("Pole-move requests: no commercial schema in this database")
        }
        if let surveys {
            let average = surveys.averageScore.map { String(format: "%.2f", $0) } ?? "-"
            Console.line("Satisfaction surveys (§4.8): \(surveys.requested) requested, \(surveys.answered) answered, average score \(average) / 5")
        }
    }
}

/// OPE-SUM-GES-P08 step 15: the monthly CxC reconciliation — charges (each with its OT),
/// payments and invoices of a month, totals per currency, and every difference.
struct Reconcile: OTCtlCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Monthly CxC reconciliation: charges vs payments vs invoices and the charges' OTs, with differences.")

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The month, e.g. 2026-11.")
    var month: String

    @Flag(help: "Print JSON.")
    var json = false

    func execute() async throws {
        let parts = month.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 2, (1...12).contains(parts[1]) else { throw CLIError("not a month: \(month) (use 2026-11)", exitCode: 64) }
        let r = try await database.withConnection { conn in try await reconciliation(on: conn, month: (parts[0], parts[1])) }
        if json {
            let encoder = reportJSONEncoder()
            Console.line(String(decoding: try encoder.encode(r), as: UTF8.self))
            return
        }
        func money(_ m: Money) -> String { "\(m.minor) \(m.currency.rawValue)" }
        func money(_ minor: Int64, _ c: Currency) -> String { "\(minor) \(c.rawValue)" }
        let linked = r.charges.filter { $0.workOrderId != nil }.count
        Console.line(
            "CxC reconciliation \(month) as of \(Wire.timestamp(r.asOf)): \(r.charges.count) charges (\(linked) naming their OT), \(r.payments.count) payments, \(r.invoices.count) invoices")
        for (currency, t) in r.totals.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            Console.line(
                "  \(currency.rawValue): charged \(money(t.charged, currency)), paid \(money(t.paid, currency)), outstanding \(money(t.outstanding, currency)), refund due \(money(t.refundDue, currency)), invoiced \(money(t.invoiced, currency)) (minor units)")
        }
        if r.differences.isEmpty {
            Console.line("No differences.")
            return
        }
        Console.line("Differences:")
        let grace = Int(Reconciliation.workOrderGrace / 3600)
        for d in r.differences {
            switch d {
            case .unpaid(let id, let amount): Console.line("  unpaid charge \(id): \(money(amount)) not paid by the end of the month")
            case .paidWithoutWorkOrder(let id, let wo, let amount, let paidAt):
                let what = wo.map { "its OT \($0) is not opened" } ?? "it names no OT"
                Console.line("  paid charge with no OT \(id): \(money(amount)) paid \(Wire.timestamp(paidAt)), over \(grace) h ago; \(what)")
            case .refundDue(let id, let wo, let amount, let reason, let paidAt, let cancelledAt):
                Console.line(
                    "  refund due for charge \(id): \(money(amount)) paid \(Wire.timestamp(paidAt)), its OT \(wo) cancelled \(Wire.timestamp(cancelledAt)): \(reason)")
            case .amountDiffers(let id, let charged, let paid):
                Console.line("  payment not matching charge \(id): charged \(money(charged)), paid \(money(paid))")
            case .receiptReused(let receipt, let id, let first, let amount):
                Console.line("  receipt \(receipt) recorded for charge \(id) (\(money(amount))) was already recorded for charge \(first)")
            case .invoiceNeedsPricing(let invoice, let wo): Console.line("  invoice \(invoice) (OT \(wo)) issued without a price")
            }
        }
    }
}
