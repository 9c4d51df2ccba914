import AMQP
import Contracts

/// Broker objects of the platform that belong to no single service's routes.
public enum ServiceCatalog {
    /// What the operations center consumes (CONTRACT.md): dispatches, priorities and escalations,
    /// in the durable queue `operations.dispatch`, declared by the dispatch service, with the
    /// default bound (``operationsQueueMaxLength``).
    public static let operationsCenter = operationsCenter(maxLength: operationsQueueMaxLength)

    /// The operations center's objects with a given bound on its queue:
    ///
    /// - `operations.dispatch`, a durable **classic priority queue** (`x-max-priority` =
    ///   ``DeliveryPriority/maximum``): a backlogged operations center gets escalations first, then
    ///   level 1 before 2 before 3 before 4 (the outbox relay publishes each message with its
    ///   ``Message/deliveryPriority``). Quorum queues have no priorities on RabbitMQ 3.10 (the
    ///   broker refuses `x-max-priority` on them);
    /// - bounded: past `maxLength` ready messages the broker dead-letters the message at the head
    ///   (`x-overflow: drop-head`) to ``operationsOverflowQueue`` with RabbitMQ's `x-death` reason
    ///   `maxlen` — never dropped silently, and never `reject-publish` (a full queue would nack
    ///   the relays and hold up every service's outbox). In a priority queue the head is the next
    ///   message a consumer would get: the oldest of the **highest** priority present (measured
    ///   on RabbitMQ 3.10), so a full queue pushes out its most urgent messages first — the bound
    ///   is a guard for the broker, sized so that an operations center that is merely late never
    ///   meets it, and the overflow queue is watched;
    /// - `operations.dispatch.overflow`, a durable quorum queue without a bound that keeps them.
    public static func operationsCenter(maxLength: Int64) -> Topology {
        Topology(
            queues: [
                // The dead-letter target first: it exists before the queue can overflow into it.
                .quorum(operationsOverflowQueue),
                Topology.Queue(
                    name: operationsQueue,
                    arguments: [
                        "x-queue-type": "classic",
                        "x-max-priority": .int(Int64(DeliveryPriority.maximum)),
                        "x-max-length": .int(max(1, maxLength)),
                        "x-overflow": "drop-head",
                        "x-dead-letter-exchange": "",
                        "x-dead-letter-routing-key": .string(operationsOverflowQueue),
                    ]),
            ],
            bindings: [WorkOrderDispatched.type, WorkOrderPrioritized.type, WorkOrderEscalated.type].map {
                .init(queue: operationsQueue, exchange: PlatformTopology.events, routingKey: $0)
            })
    }

    /// The operations center's queue.
    public static let operationsQueue = "operations.dispatch"

    /// Where messages pushed out of a full ``operationsQueue`` are kept.
    public static let operationsOverflowQueue = "operations.dispatch.overflow"

    /// Default bound on ``operationsQueue`` (`OPERATIONS_QUEUE_MAX_LENGTH`), in messages.
    public static let operationsQueueMaxLength: Int64 = 100_000

    /// What the service that declares the operations center's queues watches: the queue must
    /// have a consumer while it holds messages, and its head must not wait longer than 15 minutes
    /// (the shortest level deadline is 12 h); its overflow queue should stay empty.
    public static let operationsWatch: [WatchedQueue] = [
        WatchedQueue(operationsQueue, expecting: .consumed(maxHeadAge: .seconds(15 * 60))),
        WatchedQueue(operationsOverflowQueue, expecting: .empty),
    ]

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
    /// Broker objects the service declares besides its own queues (e.g. the operations center's
    /// queue). A queue of these whose existing declaration differs (another kind, other
    /// arguments) is replaced at start-up, its messages moved over (``QueueReplacement``).
    public var extra: Topology
    /// Queues whose depth, consumers and head age the service samples into metrics and
    /// `/health/ready` warnings (``QueueWatch``).
    public var watched: [WatchedQueue]

    public init(
        name: String, routes: Routes, aggregates: [any Aggregate.Type], migrations: [Migration] = [], extra: Topology = Topology(),
        watched: [WatchedQueue] = []
    ) {
        self.name = name
        self.routes = routes
        self.aggregates = aggregates.map { AggregateInfo($0) }
        self.migrations = migrations
        self.extra = extra
        self.watched = watched
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

extension Topology {
    /// Sets the `x-max-length` of `queue` when this topology declares it with one (a bound
    /// from the configuration); anything else stays as it is.
    public mutating func bound(queue: String, maxLength: Int64) {
        for i in queues.indices where queues[i].name == queue && queues[i].arguments["x-max-length"] != nil {
            queues[i].arguments["x-max-length"] = .int(max(1, maxLength))
        }
    }
}
