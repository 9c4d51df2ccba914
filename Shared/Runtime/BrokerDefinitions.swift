import AMQP
import Contracts

/// The broker definitions file (`deploy/rabbitmq/definitions.json`): every exchange, queue,
/// binding and policy of the platform, in the format `rabbitmqctl import_definitions` and the
/// broker's `load_definitions` read.
///
/// It is generated from the same values the services declare at start-up —
/// ``PlatformTopology/exchanges`` and each service definition's ``ServiceTopology`` (from its
/// routes) with ``ServiceCatalog/defaultRetryDelays`` — so queue and exchange arguments match
/// byte for byte and a running service's redeclare is accepted. Users and permissions are not in
/// it: `deploy/rabbitmq/users.sh` applies them from `permissions.tsv` (``BrokerPermissions``).
/// `otctl definitions` prints it; a test fails when the committed copy drifts.
public enum BrokerDefinitions {
    /// Redeliveries a service input queue allows before the broker dead-letters a message that
    /// keeps crashing its consumer (a poison message) to `<service>.dead`.
    public static let poisonDeliveryLimit = 20

    /// The definitions as pretty-printed JSON with sorted keys and a trailing newline;
    /// deterministic, so the committed file can be compared byte for byte.
    public static func generate(services: [ServiceDefinition], vhost: String = "ot") -> String {
        document(services: services, vhost: vhost).rendered(pretty: true) + "\n"
    }

    /// The definitions as a JSON value.
    public static func document(services: [ServiceDefinition], vhost: String = "ot") -> JSONValue {
        let topology = platformTopology(services)
        // Exclusive queues belong to one connection and cannot be pre-declared.
        let queues = topology.queues.filter { !$0.exclusive }
        return [
            "vhosts": [["name": .string(vhost)]],
            "exchanges": .array(
                topology.exchanges.sorted { $0.name < $1.name }.map { exchange in
                    [
                        "name": .string(exchange.name),
                        "vhost": .string(vhost),
                        "type": .string(exchange.kind.rawValue),
                        "durable": .bool(exchange.durable),
                        "auto_delete": false,
                        "internal": false,
                        "arguments": json(exchange.arguments),
                    ]
                }),
            "queues": .array(
                queues.sorted { $0.name < $1.name }.map { queue in
                    [
                        "name": .string(queue.name),
                        "vhost": .string(vhost),
                        "durable": .bool(queue.durable),
                        "auto_delete": .bool(queue.autoDelete),
                        "arguments": json(queue.arguments),
                    ]
                }),
            "bindings": .array(
                topology.bindings.sorted { ($0.exchange, $0.queue, $0.routingKey) < ($1.exchange, $1.queue, $1.routingKey) }
                    .map { binding in
                        [
                            "source": .string(binding.exchange),
                            "vhost": .string(vhost),
                            "destination": .string(binding.queue),
                            "destination_type": "queue",
                            "routing_key": .string(binding.routingKey),
                            "arguments": [:],
                        ]
                    }),
            "policies": .array(services.map(\.name).sorted().map { poisonPolicy(service: $0, vhost: vhost) }),
        ]
    }

    /// Everything the platform declares, each exchange, queue and binding once (the first
    /// declaration of a name wins; every declarer derives its arguments from the same code).
    public static func platformTopology(_ services: [ServiceDefinition]) -> Topology {
        var merged = PlatformTopology.exchanges
        for service in services {
            merged.merge(service.topology(retryDelays: ServiceCatalog.defaultRetryDelays).topology)
        }
        var exchangeNames: Set<String> = []
        var queueNames: Set<String> = []
        return Topology(
            exchanges: merged.exchanges.filter { exchangeNames.insert($0.name).inserted },
            queues: merged.queues.filter { queueNames.insert($0.name).inserted },
            bindings: merged.bindings)
    }

    /// `ot-<service>-poison`: bounds redeliveries of the service's input queues and dead-letters a
    /// message that exceeds them to `<service>.dead`, so a message that crashes the consumer
    /// cannot loop forever.
    static func poisonPolicy(service: String, vhost: String) -> JSONValue {
        [
            "vhost": .string(vhost),
            "name": .string("ot-\(service)-poison"),
            "pattern": .string("^\(regexEscaped(service))\\.(commands|events)$"),
            "apply-to": "queues",
            "priority": 1,
            "definition": [
                "delivery-limit": .number(Double(poisonDeliveryLimit)),
                "dead-letter-exchange": "",
                "dead-letter-routing-key": .string("\(service).dead"),
            ],
        ]
    }

    /// `name` with the regular-expression metacharacters escaped.
    static func regexEscaped(_ name: String) -> String {
        var out = ""
        for c in name {
            if "\\^$.|?*+()[]{}".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }

    /// An AMQP field table as JSON, the way the broker exports it.
    static func json(_ table: [String: FieldValue]) -> JSONValue {
        .object(table.mapValues(json))
    }

    static func json(_ value: FieldValue) -> JSONValue {
        switch value {
        case .string(let s): .string(s)
        case .int(let i): .number(Double(i))
        case .bool(let b): .bool(b)
        case .double(let d): .number(d)
        case .bytes(let b): .string(String(decoding: b, as: UTF8.self))
        case .array(let values): .array(values.map(json))
        case .table(let t): json(t)
        case .void: .null
        }
    }
}

/// The broker users' permissions (`deploy/rabbitmq/permissions.tsv`, applied by
/// `deploy/rabbitmq/users.sh`): least privilege for every participant of ``PlatformCatalog``.
///
/// - Resource permissions (configure / write / read regular expressions): a service owns the
///   queues named `<service>.…` and may use the two exchanges; external senders may only publish
///   to `ot.commands` and read `ot.events` through their own queues.
/// - Topic permissions: on `ot.events` a service may publish only the event types it owns, and
///   bind its queues only to the types it consumes (its routes); on `ot.commands` each user may
///   publish only the commands it may send. Everything else the broker refuses.
public enum BrokerPermissions {
    /// One user's permissions on the vhost.
    public struct Entry: Sendable, Equatable {
        public var user: String
        public var configure: String
        public var write: String
        public var read: String
        /// exchange → (write, read) routing-key patterns.
        public var topics: [(exchange: String, write: String, read: String)]

        public static func == (a: Entry, b: Entry) -> Bool {
            a.user == b.user && a.configure == b.configure && a.write == b.write && a.read == b.read
                && a.topics.map { "\($0.exchange) \($0.write) \($0.read)" } == b.topics.map { "\($0.exchange) \($0.write) \($0.read)" }
        }
    }

    /// `^(a|b)$` for the names (dots escaped); `^$` (nothing) when there are none.
    static func exactly(_ names: [String]) -> String {
        let unique = Array(Set(names)).sorted()
        return unique.isEmpty ? "^$" : "^(" + unique.map(BrokerDefinitions.regexEscaped).joined(separator: "|") + ")$"
    }

    /// Every participant's entry; `services` gives what each service consumes.
    public static func entries(services: [ServiceDefinition]) -> [Entry] {
        // What each service binds (its routes and its extra queues), per exchange: the keys its
        // topic read permission must allow.
        var binds: [String: [String: [String]]] = [:]
        for service in services {
            for b in service.topology(retryDelays: ServiceCatalog.defaultRetryDelays).topology.bindings {
                binds[service.name, default: [:]][b.exchange, default: []].append(b.routingKey)
            }
        }
        let ex = "ot\\.commands|ot\\.events|ot\\.unrouted"
        return PlatformCatalog.all.map { p in
            let own = ([p.name + "."] + p.queuePrefixes.filter { $0 != p.name + "." })
                .map { BrokerDefinitions.regexEscaped($0) + ".*" }.joined(separator: "|")
            switch p.role {
            case .service:
                let b = binds[p.name] ?? [:]
                // A service that replays dead letters (the console) also reads and writes every
                // dead-letter queue and may put a dead event back under its original routing key.
                let dead = p.replaysDeadLetters ? "|.*\\.dead" : ""
                return Entry(
                    user: p.name, configure: "^(\(own)|\(ex))$", write: "^(\(own)|\(ex)|amq\\.default\(dead))$",
                    read: "^(\(own)|\(ex)\(dead))$",
                    topics: [
                        (PlatformTopology.commands, exactly(p.commands), exactly(b[PlatformTopology.commands] ?? [])),
                        (PlatformTopology.events, p.replaysDeadLetters ? ".*" : exactly(p.events), exactly(b[PlatformTopology.events] ?? [])),
                    ])
            case .external where p.replaysDeadLetters:
                // The operator tool: its own queues, every dead-letter queue, and the default
                // exchange to put a dead letter back into the queue it came from.
                return Entry(
                    user: p.name, configure: "^(\(own))$", write: "^(\(own)|ot\\.commands|ot\\.events|amq\\.default|.*\\.dead)$",
                    read: "^(\(own)|ot\\.events|ot\\.commands|.*\\.dead)$",
                    topics: [
                        (PlatformTopology.commands, exactly(p.commands), ".*"),
                        // Replays of dead events go back to their original routing key; consumers
                        // accept them only on behalf of the owner named in `x-origin-user`.
                        (PlatformTopology.events, ".*", ".*"),
                    ])
            case .external:
                return Entry(
                    user: p.name, configure: "^(\(own))$", write: "^(\(own)|ot\\.commands)$", read: "^(\(own)|ot\\.events)$",
                    topics: [
                        (PlatformTopology.commands, exactly(p.commands), "^$"),
                        (PlatformTopology.events, "^$", ".*"),
                    ])
            }
        }
    }

    /// The permissions file: a header, then `permission USER CONFIGURE WRITE READ` and
    /// `topic USER EXCHANGE WRITE READ` lines, tab-separated.
    public static func generate(services: [ServiceDefinition]) -> String {
        var lines = [
            "# Generated by `otctl permissions` from Shared/Runtime/Kit/PlatformCatalog.swift and the services' routes;",
            "# applied by deploy/rabbitmq/users.sh. Do not edit: a test fails when it drifts from the code.",
            "# kind\tuser\tconfigure|exchange\twrite\tread",
        ]
        for e in entries(services: services) {
            lines.append(["permission", e.user, e.configure, e.write, e.read].joined(separator: "\t"))
            for t in e.topics { lines.append(["topic", e.user, t.exchange, t.write, t.read].joined(separator: "\t")) }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
