import ConsoleUI
import Contracts
import Foundation
import Runtime

/// The console service: a read model of every event on `ot.events` (one view per OT, post-sale
/// request, damage, records file and retrieval, see `ReadModel.swift`), the operations board and
/// dashboards in the browser and an HTTP API (``ConsoleHTTP``).
public enum ConsoleService {
    /// Event types whose facts go to an OT's view.
    static let workOrderTypes = Set(WorkOrderViews.progress.targets.keys).union(WorkOrderViews.timelineOnly)
    static let requestTypes = Set(RequestViews.progress.targets.keys).union(RequestViews.timelineOnly)
    static let damageTypes: Set<String> = [
        DamageRegistered.type, DamageReiterated.type, DamageSolved.type, DamageQualityCheckDue.type, DamageHighVulnerability.type,
    ]
    static let fileTypes = Set(FileViews.progress.targets.keys)
    static let retrievalTypes = Set(RetrievalViews.progress.targets.keys)

    /// The views a fact goes to.
    static func targets(_ message: any Message, _ incoming: Incoming) -> [Target] {
        let type = Swift.type(of: message).type
        let fact = Observed(message, time: incoming.time)
        var targets: [Target] = []
        if workOrderTypes.contains(type), let id = WorkOrderViews.workOrderId(of: message) {
            targets.append(.to(WorkOrderViews.self, id, fact))
        }
        if requestTypes.contains(type), let id = Fields.string("requestId", of: message) {
            targets.append(.to(RequestViews.self, id, fact))
        }
        if damageTypes.contains(type), let id = Fields.string("damageId", of: message) {
            targets.append(.to(DamageViews.self, id, fact))
        }
        if fileTypes.contains(type), let id = Fields.string("fileId", of: message) {
            targets.append(.to(FileViews.self, id, fact))
        }
        if retrievalTypes.contains(type), let id = Fields.string("retrievalId", of: message) {
            targets.append(.to(RetrievalViews.self, id, fact))
        }
        return targets
    }

    /// Every event type of the contract: the console reads them all (those no view keeps are
    /// acknowledged and counted).
    public static let routes = Routes { r in
        for descriptor in MessageRegistry.allDescriptors where descriptor.kind == .event {
            route(descriptor.messageType, &r)
        }
    }

    static func route<M: Message>(_ type: M.Type, _ r: inout Routes) {
        r.on(type) { message, incoming in targets(message, incoming) }
    }

    public static let aggregates: [any Aggregate.Type] = [
        WorkOrderViews.self, RequestViews.self, DamageViews.self, FileViews.self, RetrievalViews.self,
    ]

    public static let definition = ServiceDefinition(
        name: "console", routes: routes, aggregates: aggregates, migrations: ConsoleMigrations.all)
}

/// The `console` schema: the kit's tables and the board's index.
public enum ConsoleMigrations {
    /// Open OTs by priority, then deadline: the board reads its page straight from this index.
    public static let all: [Migration] = [
        Migration(
            1, "board index: open OTs by level then deadline",
            [
                """
                CREATE INDEX board_order ON console.aggregates
                    ((COALESCE((data->>'level')::int, 5)), (data->>'deadline'), id)
                    WHERE kind = 'workorder' AND status NOT IN ('closed', 'rejected', 'cancelled')
                """,
                // The board's live updates ask for the latest change.
                "CREATE INDEX aggregates_updated ON console.aggregates (kind, updated_at)",
            ])
    ]
}
