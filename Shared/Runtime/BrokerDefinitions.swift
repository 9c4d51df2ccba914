import AMQP
import Contracts

/// The broker definitions file (`deploy/rabbitmq/definitions.json`): every exchange, queue,
/// binding and policy of the platform, in the format `rabbitmqctl import_definitions` and the
/// broker's `load_definitions` read.
///
/// It is generated from the same values the services declare at start-up —
/// ``PlatformTopology/exchanges`` and each ``ServiceCatalog`` entry's ``ServiceTopology`` with
/// ``ServiceCatalog/defaultRetryDelays`` — so queue and exchange arguments match byte for byte
/// and a running service's redeclare is accepted. Users and permissions are not in it: they come
/// from `deploy/rabbitmq/users.sh`. `otctl definitions` prints it; an integration test fails when
/// the committed copy drifts.
public enum BrokerDefinitions {
    /// Redeliveries a service input queue allows before the broker dead-letters a message that
    /// keeps crashing its consumer (a poison message) to `<service>.dead`.
    public static let poisonDeliveryLimit = 20

    /// The definitions as pretty-printed JSON with sorted keys and a trailing newline;
    /// deterministic, so the committed file can be compared byte for byte.
    public static func generate(vhost: String = "ot") -> String {
        document(vhost: vhost).rendered(pretty: true) + "\n"
    }

    /// The definitions as a JSON value.
    public static func document(vhost: String = "ot") -> JSONValue {
        let topology = platformTopology
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
            "policies": .array(ServiceCatalog.all.map(\.name).sorted().map { poisonPolicy(service: $0, vhost: vhost) }),
        ]
    }

    /// Everything the platform declares, each exchange, queue and binding once (the first
    /// declaration of a name wins; every declarer derives its arguments from the same code).
    public static var platformTopology: Topology {
        var merged = PlatformTopology.exchanges
        for service in ServiceCatalog.all {
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
