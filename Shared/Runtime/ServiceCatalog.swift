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

    public init(name: String, commands: [String], events: [String]) {
        self.name = name
        self.commands = commands
        self.events = events
    }

    /// The service's queues with the given retry delays.
    public func topology(retryDelays: [Duration]) -> ServiceTopology {
        ServiceTopology(service: name, commandTypes: commands, eventTypes: events, retryDelays: retryDelays)
    }
}

/// Every service of the platform.
public enum ServiceCatalog {
    public static let commercial = ServiceBindings(name: "commercial", commands: [OpenWorkOrder.type], events: [])

    public static let all: [ServiceBindings] = [commercial]

    /// Default retry delays (the `RETRY_DELAYS_MS` default); queue arguments depend on them.
    public static let defaultRetryDelays: [Duration] = [.seconds(1), .seconds(5), .seconds(30)]
}
