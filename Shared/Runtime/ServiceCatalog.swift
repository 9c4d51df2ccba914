import AMQP
import Contracts

/// Broker objects of the platform that belong to no single service's routes.
public enum ServiceCatalog {
    /// What the operations center consumes (CONTRACT.md): dispatches, priorities and escalations,
    /// in the durable queue `operations.dispatch`, declared by the dispatch service.
    public static let operationsCenter = Topology(
        queues: [.quorum(operationsQueue)],
        bindings: [WorkOrderDispatched.type, WorkOrderPrioritized.type, WorkOrderEscalated.type].map {
            .init(queue: operationsQueue, exchange: PlatformTopology.events, routingKey: $0)
        })

    /// The operations center's queue.
    public static let operationsQueue = "operations.dispatch"

    /// Default retry delays (the `RETRY_DELAYS_MS` default); queue arguments depend on them.
    public static let defaultRetryDelays: [Duration] = [.seconds(1), .seconds(5), .seconds(30)]
}

/// Everything that makes one service what it is — and nothing about plumbing: its name, its
/// routes (what it consumes and which aggregates each message goes to), its aggregates (state
/// machines), its schema migrations (sequences, reporting views) and any extra broker objects.
/// ``PlatformService`` runs it; `otctl` derives the broker definitions, permissions and
/// documentation of the whole platform from the definitions of all services.
public struct ServiceDefinition: Sendable {
    public var name: String
    public var routes: Routes
    public var aggregates: [AggregateInfo]
    public var migrations: [Migration]
    public var extra: Topology

    public init(
        name: String, routes: Routes, aggregates: [any Aggregate.Type], migrations: [Migration] = [], extra: Topology = Topology()
    ) {
        self.name = name
        self.routes = routes
        self.aggregates = aggregates.map { AggregateInfo($0) }
        self.migrations = migrations
        self.extra = extra
    }

    /// Its broker user's entry of the platform catalog.
    public var participant: PlatformCatalog.Participant? { PlatformCatalog.participant(name) }

    /// What it may publish: the events it owns and the commands it sends.
    public var emits: Set<String> { Set((participant?.events ?? []) + (participant?.commands ?? [])) }

    /// The service's queues with the given retry delays, named after `serviceName` (the
    /// `SERVICE_NAME` of an instance; defaults to its own name).
    public func topology(retryDelays: [Duration], serviceName: String? = nil) -> ServiceTopology {
        ServiceTopology(
            service: serviceName ?? name, commandTypes: routes.commandTypes, eventTypes: routes.eventTypes,
            retryDelays: retryDelays, extra: extra)
    }

    /// What must hold before the service starts: it is in the platform catalog, its aggregate
    /// kinds are distinct, and nothing binds one of its input queues to a type it has no route for.
    public func validate(serviceName: String? = nil) throws(ConfigurationError) {
        guard participant != nil else {
            throw ConfigurationError(key: "SERVICE_NAME", problem: "\(name) is not a participant of the platform catalog")
        }
        var kinds = Set<String>()
        for a in aggregates where !kinds.insert(a.kind).inserted {
            throw ConfigurationError(key: "aggregates", problem: "two aggregates of \(name) are called \(a.kind)")
        }
        let topology = topology(retryDelays: ServiceCatalog.defaultRetryDelays, serviceName: serviceName).topology
        let inputs = Set(topology.queues.map(\.name).filter { $0.hasSuffix(".commands") || $0.hasSuffix(".events") })
        for b in topology.bindings where inputs.contains(b.queue) && routes.routes[b.routingKey] == nil {
            throw ConfigurationError(
                key: "routes", problem: "\(b.queue) is bound to \(b.routingKey), which \(name) has no route for")
        }
    }
}
