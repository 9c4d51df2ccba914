import Foundation
import NIOCore
import Records
import Testing

/// A fresh store in its own temporary directory, removed afterwards.
func withTemporaryStore<T>(_ body: (DocumentStore) async throws -> T) async throws -> T {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("records-docs-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    let store = try DocumentStore(root: root)
    return try await body(store)
}

/// The regular files under `directory` (recursively), as paths relative to it.
func filesUnder(_ directory: String) -> [String] {
    guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
    var files: [String] = []
    while let name = enumerator.nextObject() as? String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory + "/" + name, isDirectory: &isDirectory), !isDirectory.boolValue {
            files.append(name)
        }
    }
    return files.sorted()
}

/// `bytes` as a body of `chunk`-sized buffers.
func chunked(_ bytes: [UInt8], chunk: Int = 64 * 1024) -> AsyncThrowingStream<ByteBuffer, any Error> {
    AsyncThrowingStream { continuation in
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunk, bytes.count)
            continuation.yield(ByteBuffer(bytes: bytes[offset..<end]))
            offset = end
        }
        continuation.finish()
    }
}

/// Deterministic pseudo-random bytes (xorshift), so a failure can be reproduced.
func sampleBytes(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
    var state = seed
    var bytes = [UInt8]()
    bytes.reserveCapacity(count)
    for _ in 0..<count {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        bytes.append(UInt8(truncatingIfNeeded: state))
    }
    return bytes
}

/// Everything a stored document yields, in order.
func readAll(_ document: StoredDocument) async throws -> [UInt8] {
    var bytes: [UInt8] = []
    for try await chunk in document { bytes += chunk.readableBytesView }
    return bytes
}

/// Flips one bit of the byte at `offset` of the file at `path`.
func flipByte(at offset: UInt64, of path: String) throws {
    let handle = try #require(FileHandle(forUpdatingAtPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: offset)
    let byte = try #require(try handle.read(upToCount: 1)?.first)
    try handle.seek(toOffset: offset)
    try handle.write(contentsOf: [byte ^ 0x01])
}

@Suite("document store")
struct DocumentStoreTests {
    let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    @Test func aDocumentGoesInAndComesBackTheSame() async throws {
        try await withTemporaryStore { store throws in
            let bytes = Array("Acta de entrega, OT-2026-0042, firmada.".utf8)
            let sha = DocumentStore.sha256Hex(of: bytes)
            let staged = try await store.write(chunked(bytes, chunk: 7), expectedSHA256: sha, maxBytes: 1024)
            #expect(staged.sha256 == sha && staged.size == bytes.count)
            let stored = try await staged.commit()
            #expect(stored == StoredObject(sha256: sha, size: bytes.count, created: true))
            #expect(try store.contains(sha))
            let path = try store.path(of: sha)
            #expect(path == "\(store.root)/objects/\(sha.prefix(2))/\(sha.dropFirst(2).prefix(2))/\(sha)")
            #expect(FileManager.default.contents(atPath: path) == Data(bytes))
            #expect(try await store.verify(sha) == StoredObject(sha256: sha, size: bytes.count, created: false))
            let document = try await store.open(sha)
            #expect(document.size == bytes.count && document.sha256 == sha)
            #expect(try await readAll(document) == bytes)
            #expect(filesUnder(store.temporaryDirectory).isEmpty)
        }
    }

    @Test func theSameBytesTwiceAreOneObject() async throws {
        try await withTemporaryStore { store throws in
            let bytes = sampleBytes(10_000)
            let sha = DocumentStore.sha256Hex(of: bytes)
            let first = try await store.write(chunked(bytes), expectedSHA256: sha, maxBytes: 20_000).commit()
            let second = try await store.write(chunked(bytes, chunk: 1000), expectedSHA256: sha, maxBytes: 20_000).commit()
            #expect(first.created)
            #expect(!second.created)
            #expect(second.size == bytes.count)
            #expect(filesUnder(store.objectsDirectory).count == 1)
            #expect(filesUnder(store.temporaryDirectory).isEmpty)
        }
    }

    @Test func aTooLargeBodyIsRefusedAndLeavesNothing() async throws {
        try await withTemporaryStore { store throws in
            let bytes = sampleBytes(5000)
            let sha = DocumentStore.sha256Hex(of: bytes)
            await #expect(throws: DocumentStoreError.tooLarge(limit: 4999)) {
                try await store.write(chunked(bytes, chunk: 1000), expectedSHA256: sha, maxBytes: 4999)
            }
            #expect(filesUnder(store.temporaryDirectory).isEmpty)
            #expect(filesUnder(store.objectsDirectory).isEmpty)
            // exactly the limit is fine
            let stored = try await store.write(chunked(bytes, chunk: 1000), expectedSHA256: sha, maxBytes: 5000).commit()
            #expect(stored.size == 5000)
        }
    }

    @Test func aTooLargeBodyIsNotReadToItsEnd() async throws {
        try await withTemporaryStore { store throws in
            let pulled = Pulled()
            let body = AsyncThrowingStream<ByteBuffer, any Error>(unfolding: {
                pulled.count += 1
                return pulled.count <= 1000 ? ByteBuffer(bytes: sampleBytes(1000)) : nil
            })
            await #expect(throws: DocumentStoreError.tooLarge(limit: 2500)) {
                try await store.write(body, expectedSHA256: emptySHA256, maxBytes: 2500)
            }
            #expect(pulled.count == 3)
            #expect(filesUnder(store.temporaryDirectory).isEmpty)
        }
    }

    @Test func theWrongHashIsRefusedAndLeavesNothing() async throws {
        try await withTemporaryStore { store throws in
            let bytes = sampleBytes(3000)
            let actual = DocumentStore.sha256Hex(of: bytes)
            let declared = DocumentStore.sha256Hex(of: Array("other".utf8))
            await #expect(throws: DocumentStoreError.hashMismatch(expected: declared, actual: actual)) {
                try await store.write(chunked(bytes, chunk: 512), expectedSHA256: declared, maxBytes: 10_000)
            }
            #expect(filesUnder(store.temporaryDirectory).isEmpty)
            #expect(filesUnder(store.objectsDirectory).isEmpty)
            #expect(try !store.contains(declared))
            #expect(try !store.contains(actual))
        }
    }

    @Test func aFailingBodyLeavesNothing() async throws {
        struct ClientWentAway: Error {}
        try await withTemporaryStore { store throws in
            let body = AsyncThrowingStream<ByteBuffer, any Error> { continuation in
                continuation.yield(ByteBuffer(bytes: sampleBytes(100)))
                continuation.finish(throwing: ClientWentAway())
            }
            do {
                _ = try await store.write(body, expectedSHA256: emptySHA256, maxBytes: 10_000)
                Issue.record("a failing body was stored")
            } catch let error as DocumentStoreError {
                guard case .bodyFailed = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
            }
            #expect(filesUnder(store.temporaryDirectory).isEmpty)
        }
    }

    @Test func aCancelledUploadLeavesNothing() async throws {
        try await withTemporaryStore { store throws in
            let (body, continuation) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
            continuation.yield(ByteBuffer(bytes: sampleBytes(100)))
            let upload = Task { try await store.write(body, expectedSHA256: emptySHA256, maxBytes: 10_000) }
            // wait until the temporary file exists, then cancel while the upload waits for more bytes
            for _ in 0..<500 where filesUnder(store.temporaryDirectory).isEmpty {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(filesUnder(store.temporaryDirectory).count == 1)
            upload.cancel()
            await #expect(throws: DocumentStoreError.cancelled) { try await upload.value }
            #expect(filesUnder(store.temporaryDirectory).isEmpty)
            continuation.finish()
        }
    }

    @Test func aDiscardedOrDroppedStagedDocumentLeavesNothing() async throws {
        try await withTemporaryStore { store throws in
            let bytes = sampleBytes(500)
            let sha = DocumentStore.sha256Hex(of: bytes)
            let staged = try await store.write(chunked(bytes), expectedSHA256: sha, maxBytes: 1000)
            #expect(filesUnder(store.temporaryDirectory).count == 1)
            staged.discard()
            #expect(filesUnder(store.temporaryDirectory).isEmpty)
            await #expect(throws: DocumentStoreError.self) { try await staged.commit() }
            #expect(filesUnder(store.objectsDirectory).isEmpty)

            do {
                let dropped = try await store.write(chunked(bytes), expectedSHA256: sha, maxBytes: 1000)
                #expect(dropped.size == 500)
            }
            #expect(filesUnder(store.temporaryDirectory).isEmpty)
            #expect(filesUnder(store.objectsDirectory).isEmpty)
        }
    }

    @Test(arguments: [
        "../..", "../../../etc/passwd", "", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
        "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "../b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85\u{0}",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85é",
    ])
    func anInvalidHashIsRefusedEverywhere(_ text: String) async throws {
        try await withTemporaryStore { store throws in
            #expect(!DocumentStore.isValidHash(text))
            await #expect(throws: DocumentStoreError.invalidHash(text)) {
                try await store.write(chunked([]), expectedSHA256: text, maxBytes: 10)
            }
            #expect(throws: DocumentStoreError.invalidHash(text)) { try store.path(of: text) }
            #expect(throws: DocumentStoreError.invalidHash(text)) { try store.remove(text) }
            #expect(throws: DocumentStoreError.invalidHash(text)) { try store.contains(text) }
            await #expect(throws: DocumentStoreError.invalidHash(text)) { try await store.verify(text) }
            await #expect(throws: DocumentStoreError.invalidHash(text)) { try await store.open(text) }
            #expect(filesUnder(store.temporaryDirectory).isEmpty)
        }
    }

    @Test func verifyFindsAMissingObject() async throws {
        try await withTemporaryStore { store throws in
            let bytes = sampleBytes(777)
            let sha = DocumentStore.sha256Hex(of: bytes)
            await #expect(throws: DocumentStoreError.missing(sha256: sha)) { try await store.verify(sha) }
            _ = try await store.write(chunked(bytes), expectedSHA256: sha, maxBytes: 1000).commit()
            #expect(try await store.verify(sha).size == 777)
            try store.remove(sha)
            try store.remove(sha)  // removing what is not there is fine
            await #expect(throws: DocumentStoreError.missing(sha256: sha)) { try await store.verify(sha) }
            await #expect(throws: DocumentStoreError.missing(sha256: sha)) { try await store.open(sha) }
            #expect(try !store.contains(sha))
            // the emptied fan-out directories went with it
            #expect(try FileManager.default.contentsOfDirectory(atPath: store.objectsDirectory).isEmpty)
        }
    }

    @Test func verifyFindsACorruptObjectAndNothingOfItIsHandedOut() async throws {
        try await withTemporaryStore { store throws in
            let bytes = sampleBytes(300_000)
            let sha = DocumentStore.sha256Hex(of: bytes)
            _ = try await store.write(chunked(bytes), expectedSHA256: sha, maxBytes: 1_000_000).commit()
            try flipByte(at: 299_999, of: store.path(of: sha))
            var corrupted = bytes
            corrupted[299_999] ^= 0x01
            let actual = DocumentStore.sha256Hex(of: corrupted)
            await #expect(throws: DocumentStoreError.corrupt(sha256: sha, actual: actual)) { try await store.verify(sha) }
            await #expect(throws: DocumentStoreError.corrupt(sha256: sha, actual: actual)) { try await store.open(sha) }

            // the same good bytes uploaded again repair it
            let repaired = try await store.write(chunked(bytes), expectedSHA256: sha, maxBytes: 1_000_000).commit()
            #expect(repaired.created)
            #expect(try await store.verify(sha).size == bytes.count)
            #expect(filesUnder(store.temporaryDirectory).isEmpty)
        }
    }

    @Test func aTruncatedObjectIsCorrupt() async throws {
        try await withTemporaryStore { store throws in
            let bytes = sampleBytes(4096)
            let sha = DocumentStore.sha256Hex(of: bytes)
            _ = try await store.write(chunked(bytes), expectedSHA256: sha, maxBytes: 10_000).commit()
            try Data(bytes.prefix(100)).write(to: URL(fileURLWithPath: try store.path(of: sha)))
            await #expect(throws: DocumentStoreError.corrupt(sha256: sha, actual: DocumentStore.sha256Hex(of: bytes.prefix(100)))) {
                try await store.verify(sha)
            }
        }
    }

    @Test func anEmptyDocumentIsADocument() async throws {
        try await withTemporaryStore { store throws in
            #expect(DocumentStore.sha256Hex(of: [UInt8]()) == emptySHA256)
            let stored = try await store.write(chunked([]), expectedSHA256: emptySHA256, maxBytes: 0).commit()
            #expect(stored == StoredObject(sha256: emptySHA256, size: 0, created: true))
            #expect(try await store.verify(emptySHA256).size == 0)
            #expect(try await readAll(store.open(emptySHA256)).isEmpty)
        }
    }

    @Test func aMultiMegabyteDocumentIsStreamedInChunks() async throws {
        try await withTemporaryStore { store throws in
            let bytes = sampleBytes(6 * 1024 * 1024 + 123)
            let sha = DocumentStore.sha256Hex(of: bytes)
            let stored = try await store.write(chunked(bytes, chunk: 16 * 1024 + 7), expectedSHA256: sha, maxBytes: 8 * 1024 * 1024)
                .commit()
            #expect(stored.size == bytes.count && stored.created)
            let document = try await store.open(sha)
            var chunks = 0
            var back: [UInt8] = []
            back.reserveCapacity(bytes.count)
            for try await chunk in document {
                chunks += 1
                back += chunk.readableBytesView
            }
            #expect(chunks > 1)
            #expect(back == bytes)
        }
    }

    @Test func concurrentUploadsOfTheSameBytesCreateItOnce() async throws {
        try await withTemporaryStore { store throws in
            let bytes = sampleBytes(200_000)
            let sha = DocumentStore.sha256Hex(of: bytes)
            let created = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await store.write(chunked(bytes), expectedSHA256: sha, maxBytes: 1_000_000).commit().created }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(created == 1)
            #expect(filesUnder(store.objectsDirectory).count == 1)
            #expect(filesUnder(store.temporaryDirectory).isEmpty)
        }
    }

    @Test func staleTemporariesAreSweptAndFreshOnesKept() async throws {
        try await withTemporaryStore { store throws in
            let old = store.temporaryDirectory + "/old.part"
            let fresh = store.temporaryDirectory + "/fresh.part"
            #expect(FileManager.default.createFile(atPath: old, contents: Data([1])))
            #expect(FileManager.default.createFile(atPath: fresh, contents: Data([2])))
            try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-7200)], ofItemAtPath: old)
            #expect(store.removeStaleTemporaries(olderThan: .seconds(3600)) == 1)
            #expect(filesUnder(store.temporaryDirectory) == ["fresh.part"])
        }
    }
}

/// How often a body was pulled (touched only by the task that iterates it).
final class Pulled: @unchecked Sendable {
    var count = 0
}
