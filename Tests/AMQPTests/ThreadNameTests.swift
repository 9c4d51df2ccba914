@testable import AMQP
import Foundation
import Logging
import Synchronization
import Testing

/// The connection's I/O thread carries its connection's name where the kernel shows it (`top -H`,
/// `perf`, `/proc/<pid>/task/*/comm`), so a profile tells it from the task pool and the event loops.
@Suite struct ThreadNameTests {
    /// The names of this process's threads, as the kernel reports them.
    static func threadNames() -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { t in
            (try? String(contentsOfFile: "/proc/self/task/\(t)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .newlines)
        }
    }

    @Test func theIOThreadIsNamedAfterItsConnection() async throws {
        // Nothing listens on port 1: the thread runs (and retries) without a broker.
        let url = try AMQPURL(string: "amqp://guest:guest@127.0.0.1:1/")
        let connection = AMQPConnection(configuration: .init(url: url, name: "namecheck"), logger: Logger(label: "test"))
        connection.start()
        let deadline = ContinuousClock.now + .seconds(5)
        while !Self.threadNames().contains("amqp-namecheck"), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(Self.threadNames().contains("amqp-namecheck"))
        await connection.shutdown()
    }

    @Test func aLongNameIsCutToWhatTheKernelKeeps() async throws {
        let names = await Task.detached { () -> [String] in
            let done = DispatchSemaphore(value: 0)
            let observed = Mutex<[String]>([])
            let thread = Thread {
                IOLoop.nameCurrentThread("amqp-commercial-consumer")
                let names = ThreadNameTests.threadNames()
                observed.withLock { $0 = names }
                done.signal()
            }
            thread.start()
            done.wait()
            return observed.withLock { $0 }
        }.value
        #expect(names.contains("amqp-commercial"))
        #expect(!names.contains { $0.hasPrefix("amqp-commercial-") })
    }
}
