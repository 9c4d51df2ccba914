import AMQP
import Contracts

/// Which message types each service consumes: the single source for its queue bindings, its
/// handler's dispatch, the broker definitions file and the operator tool.
public struct ServiceBindings: Sendable {
    /// Service name: queue prefix, schema, broker user.
    public var name: String
    /// Command types bound to `<name>.commands` from `ot.commands`.
    public var commands: [String]
    /// Event types bound to `<name>.events` from `ot.events`.
    public var events: [String]
    /// Further objects the service declares at start-up.
    public var extra: Topology

    public init(name: String, commands: [String], events: [String], extra: Topology = Topology()) {
        self.name = name
        self.commands = commands
        self.events = events
        self.extra = extra
    }

    /// The service's queues with the given retry delays.
    public func topology(retryDelays: [Duration]) -> ServiceTopology {
        ServiceTopology(service: name, commandTypes: commands, eventTypes: events, retryDelays: retryDelays, extra: extra)
    }
}

/// Every service of the platform.
public enum ServiceCatalog {
    public static let commercial = ServiceBindings(
        name: "commercial",
        commands: [OpenWorkOrder.type, ChangeScope.type, RequestPoleMove.type],
        events: [ChargeCreated.type, ChargePaid.type, WorkOrderRejected.type, WorkOrderCancelled.type, WorkOrderClosed.type])

    public static let approval = ServiceBindings(
        name: "approval",
        commands: [
            ApproveWorkOrder.type, RejectWorkOrder.type, AttachDocument.type, ReviewPrefactura.type,
            RecordSurveyAnswer.type,
        ],
        events: [WorkOrderOpened.type, WorkOrderCancelled.type, WorkOrderClosed.type, PrefacturaIssued.type])

    public static let dispatch = ServiceBindings(
        name: "dispatch",
        commands: [AssignWorkOrder.type, ReportOutcome.type, CancelWorkOrder.type, CloseWorkOrder.type],
        events: [
            WorkOrderOpened.type, WorkOrderApprovalPending.type, WorkOrderApproved.type, WorkOrderRejected.type,
            WorkOrderPrioritized.type,
        ],
        extra: operationsCenter)

    /// What the operations center consumes (CONTRACT.md): dispatches, priorities and escalations,
    /// in the durable queue `operations.dispatch`, declared by the dispatch service.
    public static let operationsCenter = Topology(
        queues: [.quorum(operationsQueue)],
        bindings: [WorkOrderDispatched.type, WorkOrderPrioritized.type, WorkOrderEscalated.type].map {
            .init(queue: operationsQueue, exchange: PlatformTopology.events, routingKey: $0)
        })

    /// The operations center's queue.
    public static let operationsQueue = "operations.dispatch"

    public static let billing = ServiceBindings(
        name: "billing",
        commands: [RecordPayment.type],
        events: [WorkOrderClosed.type, ChargeRequested.type, PrefacturaApproved.type, PrefacturaReturned.type])

    public static let all: [ServiceBindings] = [commercial, approval, dispatch, billing]

    /// Default retry delays (the `RETRY_DELAYS_MS` default); queue arguments depend on them.
    public static let defaultRetryDelays: [Duration] = [.seconds(1), .seconds(5), .seconds(30)]
}
