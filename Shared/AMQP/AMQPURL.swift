import Foundation

/// Where and how to connect: parsed from an `amqp://` or `amqps://` URL.
///
/// `amqp://user:password@host:port/vhost` — the vhost is the percent-decoded path without its
/// leading slash (`/%2F` is the vhost `/`; an empty path is `/`). Missing user and password
/// default to `guest`. TLS options for `amqps` come as query items: `cacertfile`, `certfile`,
/// `keyfile`, `verify` (`true` by default).
public struct AMQPURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var vhost: String
    /// Whether to connect through rabbitmq-c's SSL socket.
    public var tls: Bool
    /// PEM file of the certificate authority used to verify the broker (TLS only).
    public var caCertFile: String?
    /// Client certificate and key for mutual TLS (TLS only).
    public var certFile: String?
    public var keyFile: String?
    /// Verify the broker's certificate and host name (TLS only).
    public var verifyPeer: Bool

    public init(
        host: String = "localhost", port: Int? = nil, user: String = "guest", password: String = "guest",
        vhost: String = "/", tls: Bool = false
    ) {
        self.host = host
        self.port = port ?? (tls ? 5671 : 5672)
        self.user = user
        self.password = password
        self.vhost = vhost
        self.tls = tls
        self.verifyPeer = true
    }

    /// Parses an `amqp://` or `amqps://` URL.
    public init(string: String) throws(AMQPError) {
        guard let components = URLComponents(string: string), let scheme = components.scheme?.lowercased() else {
            throw AMQPError(.invalidURL, "not a URL: \(Self.redacted(string))")
        }
        let tls: Bool
        switch scheme {
        case "amqp": tls = false
        case "amqps": tls = true
        default: throw AMQPError(.invalidURL, "scheme must be amqp or amqps, not \(scheme)")
        }
        let host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "localhost"
        if let port = components.port, !(1...65535).contains(port) {
            throw AMQPError(.invalidURL, "port out of range: \(port)")
        }
        let user = components.user.flatMap { $0.removingPercentEncoding } ?? "guest"
        let password = components.password.flatMap { $0.removingPercentEncoding } ?? "guest"
        var path = components.percentEncodedPath
        if path.hasPrefix("/") { path.removeFirst() }
        let vhost = path.isEmpty ? "/" : (path.removingPercentEncoding ?? path)
        self.init(host: host, port: components.port, user: user, password: password, vhost: vhost, tls: tls)
        for item in components.queryItems ?? [] {
            switch item.name {
            case "cacertfile": caCertFile = item.value
            case "certfile": certFile = item.value
            case "keyfile": keyFile = item.value
            case "verify": verifyPeer = !(item.value == "false" || item.value == "0" || item.value == "verify_none")
            case "heartbeat", "connection_timeout": break  // accepted for compatibility; see AMQPConnection.Configuration
            default: throw AMQPError(.invalidURL, "unknown query parameter \(item.name)")
            }
        }
    }

    /// The URL with the password hidden, for logs.
    public var description: String {
        let vh = vhost == "/" ? "%2F" : vhost.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? vhost
        return "\(tls ? "amqps" : "amqp")://\(user):***@\(host):\(port)/\(vh)"
    }

    static func redacted(_ s: String) -> String {
        guard let at = s.lastIndex(of: "@"), let schemeEnd = s.range(of: "://") else { return s }
        return s[..<schemeEnd.upperBound] + "***" + s[at...]
    }
}
