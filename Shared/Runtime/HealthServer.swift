import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization

/// A small HTTP endpoint per service: `GET /health/live` (the process runs), `GET /health/ready`
/// (broker and database connected: 200, else 503) and `GET /metrics` (Prometheus text format).
///
/// `/health/ready`'s body is `ready` (or why not), then one `warning: …` line per warning (e.g. a
/// watched queue without its consumer, ``QueueWatch``): warnings do not change the status.
public final class HealthServer: Service, Sendable {
    let host: String
    let port: Int
    let readiness: @Sendable () -> Bool
    let warnings: @Sendable () -> [String]
    let registry: PrometheusCollectorRegistry
    let logger: Logger
    let bound = Mutex<Int?>(nil)

    public init(
        host: String, port: Int, registry: PrometheusCollectorRegistry, logger: Logger,
        readiness: @escaping @Sendable () -> Bool, warnings: @escaping @Sendable () -> [String] = { [] }
    ) {
        self.host = host
        self.port = port
        self.registry = registry
        self.logger = logger
        self.readiness = readiness
        self.warnings = warnings
    }

    /// The port actually bound (useful with `HTTP_PORT=0`).
    public var boundPort: Int? { bound.withLock { $0 } }

    public func run() async throws {
        let readiness = self.readiness
        let warnings = self.warnings
        let registry = self.registry
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(HealthHandler(readiness: readiness, warnings: warnings, registry: registry))
                }
            }
            .bind(host: host, port: port).get()
        let port = channel.localAddress?.port
        bound.withLock { $0 = port }
        logger.info("HTTP endpoint listening", metadata: ["http.host": "\(host)", "http.port": "\(port ?? 0)"])
        try? await gracefulShutdown()
        try await channel.close()
    }
}

final class HealthHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let readiness: @Sendable () -> Bool
    let warnings: @Sendable () -> [String]
    let registry: PrometheusCollectorRegistry

    init(readiness: @escaping @Sendable () -> Bool, warnings: @escaping @Sendable () -> [String], registry: PrometheusCollectorRegistry) {
        self.readiness = readiness
        self.warnings = warnings
        self.registry = registry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let request) = unwrapInboundIn(data) else { return }
        let path = request.uri.split(separator: "?").first.map(String.init) ?? request.uri
        let status: HTTPResponseStatus
        var body: [UInt8]
        var contentType = "text/plain; charset=utf-8"
        switch (request.method, path) {
        case (.GET, "/health/live"):
            status = .ok
            body = Array("live\n".utf8)
        case (.GET, "/health/ready"):
            let ready = readiness()
            status = ready ? .ok : .serviceUnavailable
            body = Array(Self.readyBody(ready: ready, warnings: warnings()).utf8)
        case (.GET, "/metrics"):
            status = .ok
            body = []
            registry.emit(into: &body)
            contentType = "text/plain; version=0.0.4; charset=utf-8"
        default:
            status = .notFound
            body = Array("not found\n".utf8)
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.count)")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
    }

    /// `/health/ready`'s body: the verdict, then one line per warning.
    static func readyBody(ready: Bool, warnings: [String]) -> String {
        (ready ? "ready\n" : "not ready: broker or database not connected\n")
            + warnings.map { "warning: \($0)\n" }.joined()
    }
}
