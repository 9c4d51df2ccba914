import ArgumentParser
import Contracts
import Foundation
import PostSale
import Priority
import Records

/// The monthly KPIs of a procedure, from live data: `otctl kpi postsale 2026-11`, `otctl kpi damages 2026-11`.
struct KPI: OTCtlCommand {
    static let configuration = CommandConfiguration(
        commandName: "kpi", abstract: "A procedure's monthly KPIs from live data (postsale: efficacy ≥ 98 %, timeliness ≥ 95 %; damages: reiterated damages solved ≥ 98 %; records: files recovered ≥ 99 %).")

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The procedure: postsale, damages or records.")
    var procedure: String

    @Argument(help: "The month, YYYY-MM (UTC).")
    var month: String

    @Flag(help: "Print JSON.")
    var json = false

    func execute() async throws {
        guard let m = YearMonth(month) else { throw CLIError("not a month YYYY-MM: \(month)", exitCode: 64) }
        switch procedure {
        case "postsale": try await postSale(m)
        case "damages": try await damages(m)
        case "records": try await records(m)
        default: throw CLIError("unknown procedure \(procedure) (known: postsale, damages, records)", exitCode: 64)
        }
    }

    /// Seed 002: files recovered / retrieval requests.
    func records(_ m: YearMonth) async throws {
        guard let kpi = try await database.withConnection({ try await recordsKPI(on: $0, month: m) }) else {
            throw CLIError("the records schema does not exist in this database")
        }
        if json {
            Console.line(String(decoding: try reportJSONEncoder().encode(kpi), as: UTF8.self))
            return
        }
        let percent = kpi.percent.map { String(format: "%.1f %%", $0) } ?? "—"
        Console.line("Retrieval requests of \(m) (document management, seed 002): \(kpi.requests) requested, \(kpi.recovered) recovered")
        Console.line("  recovered / requested  \(percent)  (≥ 99 % approved)  \(kpi.verdict.rawValue)")
    }

    /// COM-GCM-P12 §IV.2: reiterated damages solved / received.
    func damages(_ m: YearMonth) async throws {
        guard let kpi = try await database.withConnection({ try await damageKPI(on: $0, month: m) }) else {
            throw CLIError("the priority schema does not exist in this database")
        }
        if json {
            Console.line(String(decoding: try reportJSONEncoder().encode(kpi), as: UTF8.self))
            return
        }
        let percent = kpi.percent.map { String(format: "%.1f %%", $0) } ?? "—"
        Console.line("Reiterated damages of \(m) (COM-GCM-P12 §IV.2): \(kpi.received) received, \(kpi.solved) solved")
        Console.line("  solved / received  \(percent)  (≥ 98 % accepted, ≤ 97 % observed)  \(kpi.verdict.rawValue)")
    }

    func postSale(_ m: YearMonth) async throws {
        guard let kpi = try await database.withConnection({ try await postSaleKPI(on: $0, month: m) }) else {
            throw CLIError("the postsale schema does not exist in this database")
        }
        if json {
            Console.line(String(decoding: try reportJSONEncoder().encode(kpi), as: UTF8.self))
            return
        }
        func percent(_ p: Double?) -> String { p.map { String(format: "%.1f %%", $0) } ?? "—" }
        Console.line("Post-sale requests received in \(m) (GC-PRC-OPE-ASE-04 §III.2): \(kpi.total)")
        Console.line("  efficacy     \(kpi.effective)/\(kpi.total) attended effectively  \(percent(kpi.efficacyPercent))  (≥ 98 %)  \(kpi.efficacy.rawValue)")
        Console.line("  timeliness   \(kpi.onTime)/\(kpi.total) attended in under 24 h  \(percent(kpi.timelinessPercent))  (≥ 95 %)  \(kpi.timeliness.rawValue)")
    }
}
