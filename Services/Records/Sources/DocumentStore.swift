import Crypto
import Foundation
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the document store refused or failed.
public enum DocumentStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text is not a SHA-256 in the store's spelling: exactly 64 lowercase hexadecimal characters.
    case invalidHash(String)
    /// The body has more than `limit` bytes (reading stopped there).
    case tooLarge(limit: Int)
    /// The bytes received do not hash to the name they were sent under.
    case hashMismatch(expected: String, actual: String)
    /// No stored object has this name.
    case missing(sha256: String)
    /// The stored object's bytes no longer hash to its name.
    case corrupt(sha256: String, actual: String)
    /// The body could not be read to its end (the client went away, a malformed stream).
    case bodyFailed(String)
    /// The task writing the body was cancelled.
    case cancelled
    /// The file system failed (the operation and `strerror`), or a staged document was used twice.
    case io(String)

    public var description: String {
        switch self {
        case .invalidHash(let text):
            "\"\(text.prefix(80))\" is not a SHA-256 (64 lowercase hexadecimal characters)"
        case .tooLarge(let limit): "the document is larger than the limit of \(limit) bytes"
        case .hashMismatch(let expected, let actual): "the bytes hash to \(actual), not to the declared \(expected)"
        case .missing(let sha256): "no stored document \(sha256)"
        case .corrupt(let sha256, let actual): "the stored document \(sha256) is corrupt: its bytes hash to \(actual)"
        case .bodyFailed(let why): "the body could not be read: \(why)"
        case .cancelled: "cancelled"
        case .io(let why): "storage failure: \(why)"
        }
    }
}

/// A document in the store: its name (the SHA-256 of its bytes), its size and whether the operation
/// that returned it put the bytes there (`false`: they were already stored, or it only looked).
public struct StoredObject: Sendable, Equatable, Codable {
    public var sha256: String
    public var size: Int
    public var created: Bool

    public init(sha256: String, size: Int, created: Bool) {
        self.sha256 = sha256
        self.size = size
        self.created = created
    }
}

/// Content-addressed document bytes on disk.
///
/// Layout under `root`: `objects/<aa>/<bb>/<sha256>` (the first two pairs of hex digits fan the
/// objects out) and `tmp/` (uploads being received, one uniquely named file each). An object is
/// only ever created whole: the bytes are streamed to a temporary file while hashed and counted,
/// the file is fsynced and then linked into place atomically, never over an existing object (see
/// ``Staged/commit()``). `tmp/` and `objects/` must be on the same file system (they are: both are
/// under `root`). Blocking file work runs on NIO's thread pool (`NIOThreadPool.singleton`).
public struct DocumentStore: Sendable {
    /// The directory the store lives in.
    public let root: String
    /// `root/objects`.
    public var objectsDirectory: String { root + "/objects" }
    /// `root/tmp`.
    public var temporaryDirectory: String { root + "/tmp" }

    /// Opens (and creates, with intermediate directories) the store rooted at `root`.
    public init(root: String) throws(DocumentStoreError) {
        var root = root
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root
        for directory in [root, root + "/objects", root + "/tmp"] {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw .io("creating \(directory): \(error)")
            }
        }
    }

    // MARK: Names

    /// Whether `text` is a SHA-256 as the store names objects: exactly 64 characters `0-9a-f`
    /// (which also keeps any name from leaving the store's directory).
    public static func isValidHash(_ text: String) -> Bool {
        var count = 0
        for byte in text.utf8 {
            count += 1
            guard count <= 64, (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) else { return false }
        }
        return count == 64
    }

    /// The SHA-256 of `data`, as the store spells it.
    public static func sha256Hex(of data: some DataProtocol) -> String {
        hex(SHA256.hash(data: data))
    }

    /// Where the object named `sha256` lives (whether or not it is there).
    public func path(of sha256: String) throws(DocumentStoreError) -> String {
        guard Self.isValidHash(sha256) else { throw .invalidHash(sha256) }
        return objectDirectory(sha256) + "/" + sha256
    }

    /// Whether an object named `sha256` exists (its bytes are not checked: see ``verify(_:)``).
    public func contains(_ sha256: String) throws(DocumentStoreError) -> Bool {
        let path = try path(of: sha256)
        var info = stat()
        return stat(path, &info) == 0
    }

    // MARK: Writing

    /// Streams `body` into a new temporary file while hashing and counting it.
    ///
    /// More than `maxBytes` bytes → reading stops, ``DocumentStoreError/tooLarge(limit:)``; bytes
    /// that do not hash to `expectedSHA256` → ``DocumentStoreError/hashMismatch(expected:actual:)``.
    /// On every error (including the body failing, I/O errors and cancellation) the temporary file
    /// is gone before this returns. On success the bytes are fsynced and wait in a ``Staged``
    /// to be committed (or discarded).
    public func write(
        _ body: some AsyncSequence<ByteBuffer, any Error>, expectedSHA256: String, maxBytes: Int
    ) async throws(DocumentStoreError) -> Staged {
        guard Self.isValidHash(expectedSHA256) else { throw .invalidHash(expectedSHA256) }
        let temporary = temporaryDirectory + "/" + UUID().uuidString.lowercased() + ".part"
        let fd = try await Self.offload { () throws(DocumentStoreError) -> Int32 in
            try Posix.createExclusive(temporary)
        }
        var open = true
        do {
            var hasher = SHA256()
            var size = 0
            var pending = ByteBuffer()
            for try await chunk in body {
                if Task.isCancelled { throw DocumentStoreError.cancelled }
                size += chunk.readableBytes
                guard size <= maxBytes else { throw DocumentStoreError.tooLarge(limit: maxBytes) }
                chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                if pending.readableBytes == 0 && chunk.readableBytes >= Self.writeBatch {
                    try await Self.offload { () throws(DocumentStoreError) in try Posix.writeAll(fd, chunk, path: temporary) }
                    continue
                }
                var copy = chunk
                pending.writeBuffer(&copy)
                if pending.readableBytes >= Self.writeBatch {
                    let batch = pending
                    try await Self.offload { () throws(DocumentStoreError) in try Posix.writeAll(fd, batch, path: temporary) }
                    pending.clear()
                }
            }
            if Task.isCancelled { throw DocumentStoreError.cancelled }
            let actual = Self.hex(hasher.finalize())
            guard actual == expectedSHA256 else {
                throw DocumentStoreError.hashMismatch(expected: expectedSHA256, actual: actual)
            }
            let batch = pending
            try await Self.offload { () throws(DocumentStoreError) in
                if batch.readableBytes > 0 { try Posix.writeAll(fd, batch, path: temporary) }
                try Posix.fsync(fd, path: temporary)
            }
            open = false
            try Posix.close(fd, path: temporary)
            return Staged(store: self, temporaryPath: temporary, sha256: actual, size: size)
        } catch {
            if open { _ = Posix.closeQuietly(fd) }
            unlink(temporary)
            switch error {
            case let error as DocumentStoreError: throw error
            case is CancellationError: throw .cancelled
            default: throw .bodyFailed(String(describing: error))
            }
        }
    }

    /// Bytes received, hashed and fsynced under `tmp/`, not yet an object: ``commit()`` them or
    /// ``discard()`` them. A staged document dropped without either is discarded.
    public final class Staged: Sendable {
        public let sha256: String
        public let size: Int
        let store: DocumentStore
        let temporaryPath: String
        private let pending = Mutex(true)

        init(store: DocumentStore, temporaryPath: String, sha256: String, size: Int) {
            self.store = store
            self.temporaryPath = temporaryPath
            self.sha256 = sha256
            self.size = size
        }

        deinit {
            if pending.withLock({ $0 }) { unlink(temporaryPath) }
        }

        /// Moves the bytes to `objects/<aa>/<bb>/<sha256>`, atomically and never over an existing
        /// object (a hard link, then the temporary name is removed; where the file system has no
        /// hard links, a rename after checking the name is free). When a good object is already
        /// there the new bytes are dropped (`created` false); when the one there is corrupt it is
        /// replaced by these (`created` true). The temporary file is gone afterwards, also on error.
        public func commit() async throws(DocumentStoreError) -> StoredObject {
            guard take() else { throw .io("the staged document \(sha256) was already committed or discarded") }
            let store = store, temporary = temporaryPath, sha256 = sha256, size = size
            do {
                return try await DocumentStore.offload { () throws(DocumentStoreError) -> StoredObject in
                    try store.place(temporary, sha256: sha256, size: size)
                }
            } catch {
                unlink(temporary)
                throw error
            }
        }

        /// Deletes the received bytes (nothing is stored).
        public func discard() {
            if take() { unlink(temporaryPath) }
        }

        private func take() -> Bool {
            pending.withLock { pending in
                defer { pending = false }
                return pending
            }
        }
    }

    /// `commit()`'s work, on a thread-pool thread.
    func place(_ temporary: String, sha256: String, size: Int) throws(DocumentStoreError) -> StoredObject {
        let directory = objectDirectory(sha256)
        let target = directory + "/" + sha256
        defer { unlink(temporary) }
        // A concurrent `remove` may take the (empty) fan-out directories away between creating
        // them and linking: try again.
        for _ in 0..<8 {
            try Posix.makeDirectories([objectsDirectory + "/" + sha256.prefix(2), directory])
            if link(temporary, target) == 0 {
                Posix.fsyncDirectory(directory)
                return StoredObject(sha256: sha256, size: size, created: true)
            }
            let error = errno
            switch error {
            case EEXIST:
                if case .some(true) = try? verifyMatches(target, sha256: sha256) {
                    return StoredObject(sha256: sha256, size: size, created: false)
                }
                // The stored copy is corrupt (or unreadable): these good bytes replace it.
                try Posix.rename(temporary, target)
                Posix.fsyncDirectory(directory)
                return StoredObject(sha256: sha256, size: size, created: true)
            case ENOENT:
                continue
            case EPERM, EXDEV, EMLINK, ENOTSUP, EOPNOTSUPP:
                // No hard links here: check, then rename (atomic, but may replace a concurrent copy
                // of the same bytes, which is harmless).
                var info = stat()
                if stat(target, &info) == 0, case .some(true) = try? verifyMatches(target, sha256: sha256) {
                    return StoredObject(sha256: sha256, size: size, created: false)
                }
                try Posix.rename(temporary, target)
                Posix.fsyncDirectory(directory)
                return StoredObject(sha256: sha256, size: size, created: true)
            default:
                throw .io("linking \(temporary) to \(target): \(Posix.describe(error))")
            }
        }
        throw .io("linking \(temporary) to \(target): its directory keeps disappearing")
    }

    // MARK: Removing

    /// Deletes the object named `sha256` (nothing happens when there is none), and its fan-out
    /// directories when they are left empty.
    public func remove(_ sha256: String) throws(DocumentStoreError) {
        let target = try path(of: sha256)
        if unlink(target) != 0 && errno != ENOENT {
            throw .io("removing \(target): \(Posix.describe(errno))")
        }
        let directory = objectDirectory(sha256)
        if rmdir(directory) == 0 {
            Posix.fsyncDirectory(objectsDirectory + "/" + sha256.prefix(2))
            _ = rmdir(objectsDirectory + "/" + sha256.prefix(2))
        }
    }

    /// Deletes temporary files older than `age` (uploads a crash interrupted). Returns how many.
    @discardableResult
    public func removeStaleTemporaries(olderThan age: Duration) -> Int {
        let directory = temporaryDirectory
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return 0 }
        let limit = Date().addingTimeInterval(-Double(age.components.seconds))
        var removed = 0
        for name in names where name.hasSuffix(".part") {
            let path = directory + "/" + name
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                let modified = attributes[.modificationDate] as? Date, modified < limit
            else { continue }
            if unlink(path) == 0 { removed += 1 }
        }
        return removed
    }

    // MARK: Reading

    /// Re-hashes the stored object named `sha256`: ``DocumentStoreError/missing(sha256:)`` when it
    /// is not there, ``DocumentStoreError/corrupt(sha256:actual:)`` when its bytes no longer hash to
    /// its name. `created` is false.
    public func verify(_ sha256: String) async throws(DocumentStoreError) -> StoredObject {
        let document = try await open(sha256)
        return StoredObject(sha256: document.sha256, size: document.size, created: false)
    }

    /// Opens the object named `sha256` for reading, after verifying all of its bytes (the same
    /// errors as ``verify(_:)``): nothing of a corrupt object is ever handed out. The returned
    /// sequence reads the very file that was verified (an open descriptor) and yields exactly
    /// `size` bytes, in chunks; it fails rather than yield more or fewer.
    public func open(_ sha256: String) async throws(DocumentStoreError) -> StoredDocument {
        let target = try path(of: sha256)
        let chunk = Self.readChunk
        return try await Self.offload { () throws(DocumentStoreError) -> StoredDocument in
            let fd = openForReading(target)
            guard fd >= 0 else {
                let error = errno
                if error == ENOENT || error == ENOTDIR { throw .missing(sha256: sha256) }
                throw .io("opening \(target): \(Posix.describe(error))")
            }
            let handle = ReadHandle(fd: fd, path: target)
            var hasher = SHA256()
            var size = 0
            var buffer = [UInt8](repeating: 0, count: chunk)
            while true {
                let count = try Posix.checked(
                    buffer.withUnsafeMutableBytes { Posix.preadRaw(fd, into: $0, at: size) }, reading: target)
                if count == 0 { break }
                buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                size += count
            }
            let actual = Self.hex(hasher.finalize())
            guard actual == sha256 else { throw .corrupt(sha256: sha256, actual: actual) }
            return StoredDocument(sha256: sha256, size: size, handle: handle, chunkSize: chunk)
        }
    }

    /// Whether the file at `path` hashes to `sha256` (`commit()` uses it for an existing object).
    func verifyMatches(_ path: String, sha256: String) throws(DocumentStoreError) -> Bool {
        let fd = openForReading(path)
        guard fd >= 0 else { throw .io("opening \(path): \(Posix.describe(errno))") }
        defer { _ = Posix.closeQuietly(fd) }
        var hasher = SHA256()
        var offset = 0
        var buffer = [UInt8](repeating: 0, count: Self.readChunk)
        while true {
            let count = try Posix.checked(
                buffer.withUnsafeMutableBytes { Posix.preadRaw(fd, into: $0, at: offset) }, reading: path)
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            offset += count
        }
        return Self.hex(hasher.finalize()) == sha256
    }

    // MARK: Internals

    /// Bytes collected before one write to the temporary file.
    static let writeBatch = 256 * 1024
    /// Bytes read at a time when hashing and serving.
    static let readChunk = 256 * 1024

    func objectDirectory(_ sha256: String) -> String {
        let utf8 = Array(sha256.utf8)
        return objectsDirectory + "/" + String(decoding: utf8[0..<2], as: UTF8.self) + "/"
            + String(decoding: utf8[2..<4], as: UTF8.self)
    }

    static func hex(_ digest: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Runs blocking file work on NIO's thread pool.
    static func offload<T: Sendable>(
        _ body: @escaping @Sendable () throws(DocumentStoreError) -> T
    ) async throws(DocumentStoreError) -> T {
        do {
            return try await NIOThreadPool.singleton.runIfActive { try body() }
        } catch let error as DocumentStoreError {
            throw error
        } catch is CancellationError {
            throw .cancelled
        } catch {
            throw .io(String(describing: error))
        }
    }
}

/// A verified stored document, to be read as chunks of bytes (see ``DocumentStore/open(_:)``).
public struct StoredDocument: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    public typealias Failure = any Error

    public let sha256: String
    public let size: Int
    let handle: ReadHandle
    let chunkSize: Int

    init(sha256: String, size: Int, handle: ReadHandle, chunkSize: Int) {
        self.sha256 = sha256
        self.size = size
        self.handle = handle
        self.chunkSize = chunkSize
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(document: self)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let document: StoredDocument
        var offset = 0

        public mutating func next() async throws -> ByteBuffer? {
            guard offset < document.size else { return nil }
            let handle = document.handle
            let want = Swift.min(document.chunkSize, document.size - offset)
            let at = offset
            let buffer = try await DocumentStore.offload { () throws(DocumentStoreError) -> ByteBuffer in
                var buffer = ByteBufferAllocator().buffer(capacity: want)
                var filled = 0
                while filled < want {
                    var result = 0
                    buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want - filled) { bytes in
                        result = Posix.preadRaw(
                            handle.fd, into: UnsafeMutableRawBufferPointer(rebasing: bytes[0..<(want - filled)]),
                            at: at + filled)
                        return Swift.max(result, 0)
                    }
                    let count = try Posix.checked(result, reading: handle.path)
                    if count == 0 { throw .io("\(handle.path) shrank while being read") }
                    filled += count
                }
                return buffer
            }
            offset += buffer.readableBytes
            return buffer
        }
    }
}

/// An open read-only descriptor, closed when the last reference goes.
final class ReadHandle: Sendable {
    let fd: Int32
    let path: String
    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }
    deinit { _ = Posix.closeQuietly(fd) }
}

/// `open(path, O_RDONLY | O_CLOEXEC)` (its own name: inside ``DocumentStore`` `open` is the method).
private func openForReading(_ path: String) -> Int32 {
    open(path, O_RDONLY | O_CLOEXEC)
}

/// Thin, error-mapping wrappers over the POSIX calls the store uses.
enum Posix {
    static func describe(_ error: Int32) -> String {
        String(cString: strerror(error)) + " (errno \(error))"
    }

    static func createExclusive(_ path: String) throws(DocumentStoreError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io("creating \(path): \(describe(errno))") }
        return fd
    }

    static func writeAll(_ fd: Int32, _ buffer: ByteBuffer, path: String) throws(DocumentStoreError) {
        let failure: Int32? = buffer.withUnsafeReadableBytes { bytes in
            var done = 0
            while done < bytes.count {
                let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                done += n
            }
            return nil
        }
        if let failure { throw .io("writing \(path): \(describe(failure))") }
    }

    /// `result` of ``preadRaw(_:into:at:)``: the byte count, or the failure as an error.
    static func checked(_ result: Int, reading path: String) throws(DocumentStoreError) -> Int {
        guard result >= 0 else { throw .io("reading \(path): \(describe(Int32(-result)))") }
        return result
    }

    /// `pread` until it is not interrupted: the byte count (0 at the end), or `-errno`.
    static func preadRaw(_ fd: Int32, into bytes: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        while true {
            #if canImport(Darwin)
            let n = Darwin.pread(fd, bytes.baseAddress, bytes.count, off_t(offset))
            #elseif canImport(Musl)
            let n = Musl.pread(fd, bytes.baseAddress, bytes.count, off_t(offset))
            #else
            let n = Glibc.pread(fd, bytes.baseAddress, bytes.count, off_t(offset))
            #endif
            if n >= 0 { return n }
            if errno == EINTR { continue }
            return -Int(errno)
        }
    }

    static func fsync(_ fd: Int32, path: String) throws(DocumentStoreError) {
        #if canImport(Darwin)
        let result = Darwin.fsync(fd)
        #elseif canImport(Musl)
        let result = Musl.fsync(fd)
        #else
        let result = Glibc.fsync(fd)
        #endif
        if result != 0 { throw .io("fsync of \(path): \(describe(errno))") }
    }

    /// Makes a rename or link in `directory` durable (best effort: not every file system allows it).
    static func fsyncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        #if canImport(Darwin)
        _ = Darwin.fsync(fd)
        #elseif canImport(Musl)
        _ = Musl.fsync(fd)
        #else
        _ = Glibc.fsync(fd)
        #endif
        _ = closeQuietly(fd)
    }

    static func close(_ fd: Int32, path: String) throws(DocumentStoreError) {
        if closeQuietly(fd) != 0 { throw .io("closing \(path): \(describe(errno))") }
    }

    @discardableResult
    static func closeQuietly(_ fd: Int32) -> Int32 {
        #if canImport(Darwin)
        Darwin.close(fd)
        #elseif canImport(Musl)
        Musl.close(fd)
        #else
        Glibc.close(fd)
        #endif
    }

    static func makeDirectories(_ paths: [String]) throws(DocumentStoreError) {
        for path in paths where mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw .io("creating \(path): \(describe(errno))")
        }
    }

    static func rename(_ from: String, _ to: String) throws(DocumentStoreError) {
        #if canImport(Darwin)
        let result = Darwin.rename(from, to)
        #elseif canImport(Musl)
        let result = Musl.rename(from, to)
        #else
        let result = Glibc.rename(from, to)
        #endif
        if result != 0 { throw .io("renaming \(from) to \(to): \(describe(errno))") }
    }
}
