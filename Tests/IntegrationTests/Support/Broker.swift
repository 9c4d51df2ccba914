import Foundation

/// A throwaway RabbitMQ virtual host for one test, created through the management API with full
/// permissions for the test user; `delete()` removes it with everything in it.
///
/// Settings (local defaults): `TEST_AMQP_HOST` (localhost), `TEST_AMQP_USER` / `TEST_AMQP_PASSWORD`
/// (guest / guest, which the broker allows on loopback), `TEST_RABBITMQ_MANAGEMENT_URL`
/// (http://localhost:15672). Calls go through curl with `shell` (Support/TestSystem.swift).
struct TestVhost: Sendable {
    static let environment = ProcessInfo.processInfo.environment
    static let host = environment["TEST_AMQP_HOST"] ?? "localhost"
    static let user = environment["TEST_AMQP_USER"] ?? "guest"
    static let password = environment["TEST_AMQP_PASSWORD"] ?? "guest"
    static let managementURL = environment["TEST_RABBITMQ_MANAGEMENT_URL"] ?? "http://localhost:15672"

    /// The vhost's name: `test-<purpose>-<random>`.
    let name: String

    /// `amqp://user:password@host:5672/<name>`.
    var amqpURL: String { "amqp://\(Self.user):\(Self.password)@\(Self.host):5672/\(name)" }

    /// Creates the vhost and grants the test user everything in it.
    init(_ purpose: String) throws {
        name = "test-\(purpose)-\(UUID().uuidString.prefix(8).lowercased())"
        try Self.management("PUT", "/api/vhosts/\(name)")
        try Self.management(
            "PUT", "/api/permissions/\(name)/\(Self.user)", body: #"{"configure":".*","write":".*","read":".*"}"#)
    }

    /// Deletes the vhost (best effort: a leftover vhost must not fail a test that passed).
    func delete() {
        try? Self.management("DELETE", "/api/vhosts/\(name)")
    }

    /// Runs `body` with a fresh vhost and deletes it afterwards, whatever happens.
    static func with<T>(_ purpose: String, _ body: (TestVhost) async throws -> T) async throws -> T {
        let vhost = try TestVhost(purpose)
        do {
            let result = try await body(vhost)
            vhost.delete()
            return result
        } catch {
            vhost.delete()
            throw error
        }
    }

    /// One management API call with curl; throws with curl's output when it fails.
    static func management(_ method: String, _ path: String, body: String? = nil) throws {
        var arguments = [
            "curl", "-sS", "-f", "-u", "\(user):\(password)", "-X", method, "-H", "content-type: application/json",
            managementURL + path,
        ]
        if let body { arguments += ["-d", body] }
        let result = try shell(arguments)
        guard result.status == 0 else {
            throw TestVhostError(description: "management API \(method) \(path) failed: \(result.output)")
        }
    }
}

/// A failed management API call.
struct TestVhostError: Error, CustomStringConvertible {
    var description: String
}
