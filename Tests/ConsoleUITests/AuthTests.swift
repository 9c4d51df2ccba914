import Foundation
import Testing

@testable import ConsoleUI

/// The console's sign-in and anti-forgery (`Auth.swift`): PBKDF2 against published vectors,
/// password hashes, the users and tokens of the configuration, signed session cookies and their
/// CSRF tokens, and what each role may do.
struct AuthTests {
    static func hex(_ text: String) -> [UInt8] { Hex.decode(text.filter { !$0.isWhitespace })! }

    // MARK: PBKDF2 and password hashes

    @Suite struct Passwords {
        // RFC 7914 §11 (PBKDF2-HMAC-SHA256), and RFC 6070's inputs with SHA-256; every value checked
        // with Python's hashlib.pbkdf2_hmac.
        @Test func rfc7914VectorOneIteration() {
            let derived = PasswordHash.pbkdf2(password: Array("passwd".utf8), salt: Array("salt".utf8), iterations: 1, keyLength: 64)
            #expect(
                derived == hex(
                    """
                    55 ac 04 6e 56 e3 08 9f ec 16 91 c2 25 44 b6 05 f9 41 85 21 6d de 04 65 e6 8b 9d 57 c2 0d ac bc
                    49 ca 9c cc f1 79 b6 45 99 16 64 b3 9d 77 ef 31 7c 71 b8 45 b1 e3 0b d5 09 11 20 41 d3 a1 97 83
                    """))
        }

        @Test func rfc7914Vector80000Iterations() {
            let clock = ContinuousClock()
            let start = clock.now
            let derived = PasswordHash.pbkdf2(password: Array("Password".utf8), salt: Array("NaCl".utf8), iterations: 80_000, keyLength: 64)
            print("PBKDF2-HMAC-SHA256, 80,000 iterations × 2 blocks: \(clock.now - start)")
            #expect(
                derived == hex(
                    """
                    4d dc d8 f6 0b 98 be 21 83 0c ee 5e f2 27 01 f9 64 1a 44 18 d0 4c 04 14 ae ff 08 87 6b 34 ab 56
                    a1 d4 25 a1 22 58 33 54 9a db 84 1b 51 c9 b3 17 6a 27 2b de bb a1 d0 78 47 8f 62 b3 97 f3 3c 8d
                    """))
        }

        @Test func moreVectors() {
            func derive(_ p: String, _ s: String, _ c: Int, _ length: Int) -> [UInt8] {
                PasswordHash.pbkdf2(password: Array(p.utf8), salt: Array(s.utf8), iterations: c, keyLength: length)
            }
            #expect(derive("password", "salt", 1, 32) == hex("120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"))
            #expect(derive("password", "salt", 2, 32) == hex("ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43"))
            #expect(derive("password", "salt", 4096, 32) == hex("c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"))
            // Two blocks, the second cut short; a password longer than the hash's block.
            #expect(
                derive("passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, 40)
                    == hex("348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c7dac47e9"))
            // Fewer bytes are the prefix of more.
            #expect(derive("passwd", "salt", 1, 7) == hex("55ac046e56e308"))
        }

        @Test func encodedForm() {
            // The same bytes as Python: "pbkdf2-sha256$1$" + b64(salt) + "$" + b64(pbkdf2_hmac(..., 32)).
            #expect(
                PasswordHash.make(password: "passwd", iterations: 1, salt: Array("salt".utf8))
                    == "pbkdf2-sha256$1$c2FsdA==$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw=")
            let made = PasswordHash.make(password: "secret", iterations: 1000)
            let fields = made.split(separator: "$", omittingEmptySubsequences: false)
            #expect(fields.count == 4)
            #expect(fields[0] == "pbkdf2-sha256")
            #expect(fields[1] == "1000")
            #expect(Data(base64Encoded: String(fields[2]))?.count == 16)
            #expect(Data(base64Encoded: String(fields[3]))?.count == 32)
            #expect(!made.contains(":"))
            // A fresh salt each time.
            #expect(PasswordHash.make(password: "secret", iterations: 1000) != made)
        }

        @Test func roundTrip() {
            for password in ["correct horse battery staple", "", "ñandú ☃ 🔑", String(repeating: "x", count: 500)] {
                let encoded = PasswordHash.make(password: password, iterations: 1000)
                #expect(PasswordHash.verify(password: password, encoded: encoded))
                #expect(!PasswordHash.verify(password: password + "x", encoded: encoded))
                #expect(!PasswordHash.verify(password: String(password.dropLast()) + "?", encoded: encoded))
            }
            let encoded = PasswordHash.make(password: "Secret", iterations: 1000)
            #expect(!PasswordHash.verify(password: "secret", encoded: encoded))
            #expect(!PasswordHash.verify(password: "Secret ", encoded: encoded))
            #expect(!PasswordHash.verify(password: "", encoded: encoded))
        }

        @Test func defaultIterationsVerifyTime() {
            let encoded = PasswordHash.make(password: "operator-password")
            #expect(encoded.hasPrefix("pbkdf2-sha256$120000$"))
            let clock = ContinuousClock()
            let start = clock.now
            let ok = PasswordHash.verify(password: "operator-password", encoded: encoded)
            let elapsed = clock.now - start
            print("PasswordHash.verify at 120,000 iterations: \(elapsed)")
            #expect(ok)
        }

        @Test func malformedEncodingsAreFalse() {
            // Valid: "passwd" with 1 iteration, salt "salt".
            let valid = "pbkdf2-sha256$1$c2FsdA==$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw="
            #expect(PasswordHash.verify(password: "passwd", encoded: valid))
            let hash = "VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw="
            let malformed = [
                "",
                "pbkdf2-sha256",
                "pbkdf2-sha1$1$c2FsdA==$\(hash)",
                "PBKDF2-SHA256$1$c2FsdA==$\(hash)",
                "pbkdf2-sha256$1$c2FsdA==",
                "pbkdf2-sha256$1$c2FsdA==$\(hash)$",
                "$pbkdf2-sha256$1$c2FsdA==$\(hash)",
                "pbkdf2-sha256$0$c2FsdA==$\(hash)",
                "pbkdf2-sha256$-1$c2FsdA==$\(hash)",
                "pbkdf2-sha256$+1$c2FsdA==$\(hash)",
                "pbkdf2-sha256$01$c2FsdA==$\(hash)",
                "pbkdf2-sha256$ 1$c2FsdA==$\(hash)",
                "pbkdf2-sha256$$c2FsdA==$\(hash)",
                "pbkdf2-sha256$one$c2FsdA==$\(hash)",
                "pbkdf2-sha256$10000001$c2FsdA==$\(hash)",
                "pbkdf2-sha256$99999999999999999999$c2FsdA==$\(hash)",
                "pbkdf2-sha256$1$$\(hash)",
                "pbkdf2-sha256$1$c2FsdA$\(hash)",  // padding missing
                "pbkdf2-sha256$1$c2FsdB==$\(hash)",  // non-zero unused bits: not canonical
                "pbkdf2-sha256$1$c2Fs*A==$\(hash)",
                "pbkdf2-sha256$1$c2FsdA==$",
                "pbkdf2-sha256$1$c2FsdA==$VawEblbjCJ/sFpHCJUS2Bw==",  // a 16-byte hash is allowed, but this one is not canonical
                "pbkdf2-sha256$1$c2FsdA==$VawEblbjCJ/sFpHC",  // 12 bytes: too short
                "pbkdf2-sha256$1$c2FsdA==$VawEblbjCJ_sFpHCJUS2BflBhSFt3gRl5oudV8INrLw=",  // base64url, not base64
                "pbkdf2-sha256$1$c2FsdA==$\(hash) ",
            ]
            for encoded in malformed {
                #expect(!PasswordHash.verify(password: "passwd", encoded: encoded), "\(encoded)")
            }
            // A shorter stored hash (16 bytes, the least accepted) is compared over its own length.
            let short = Data(PasswordHash.pbkdf2(password: Array("passwd".utf8), salt: Array("salt".utf8), iterations: 1, keyLength: 16))
            #expect(PasswordHash.verify(password: "passwd", encoded: "pbkdf2-sha256$1$c2FsdA==$\(short.base64EncodedString())"))
            #expect(!PasswordHash.verify(password: "passwe", encoded: "pbkdf2-sha256$1$c2FsdA==$\(short.base64EncodedString())"))
            // The iteration bounds.
            #expect(PasswordHash.Encoded("pbkdf2-sha256$10000000$c2FsdA==$\(hash)")?.iterations == 10_000_000)
            #expect(PasswordHash.Encoded(valid)?.description == valid)
        }

        @Test func constantTimeEquality() {
            #expect(ConstantTime.equal([], []))
            #expect(ConstantTime.equal([1, 2, 3], [1, 2, 3]))
            #expect(!ConstantTime.equal([1, 2, 3], [1, 2, 4]))
            #expect(!ConstantTime.equal([1, 2, 3], [1, 2]))
            #expect(!ConstantTime.equal([0x80, 2, 3], [0, 2, 3]))
        }
    }

    // MARK: Users and tokens

    @Suite struct Directory {
        // Made once for the suite, with few iterations so the tests stay fast.
        static let aliceHash = PasswordHash.make(password: "alice-pw", iterations: 1000)
        static let bobHash = PasswordHash.make(password: "bob-pw", iterations: 1000)
        static let ciToken = "ci-token-0123456789"
        static let opsToken = ConsoleSecrets.randomToken()

        static func error(users: String? = nil, tokens: String? = nil) -> AuthConfigError? {
            do {
                _ = try UserDirectory(users: users, tokens: tokens)
                return nil
            } catch {
                return error
            }
        }

        @Test func parsesUsersAndTokens() throws {
            let directory = try UserDirectory(
                users: "alice:admin:\(Self.aliceHash)\n\n  bob : Operator : \(Self.bobHash) ;\r\nc:viewer:\(Self.bobHash);",
                tokens: "ci:operator:\(ConsoleSecrets.tokenHash(Self.ciToken));ops:admin:\(ConsoleSecrets.tokenHash(Self.opsToken).uppercased())")
            #expect(!directory.isEmpty)
            #expect(directory.userCount == 3)
            #expect(directory.tokenCount == 2)

            let alice = directory.authenticate(username: "alice", password: "alice-pw")
            #expect(alice?.name == "alice")
            #expect(alice?.role == .admin)
            let bob = directory.authenticate(username: "bob", password: "bob-pw")
            #expect(bob?.name == "bob")
            #expect(bob?.role == .operator)
            #expect(directory.authenticate(username: "c", password: "bob-pw")?.role == .viewer)

            #expect(directory.authenticate(username: "alice", password: "bob-pw") == nil)
            #expect(directory.authenticate(username: "alice", password: "") == nil)
            #expect(directory.authenticate(username: "Alice", password: "alice-pw") == nil)
            #expect(directory.authenticate(username: "carol", password: "alice-pw") == nil)
            #expect(directory.authenticate(username: "", password: "") == nil)
        }

        @Test func tokens() throws {
            let directory = try UserDirectory(
                users: nil,
                tokens: """
                    ci:operator:\(ConsoleSecrets.tokenHash(Self.ciToken))
                    ops:admin:\(ConsoleSecrets.tokenHash(Self.opsToken))
                    """)
            #expect(!directory.isEmpty)
            let ci = directory.authenticate(token: Self.ciToken)
            #expect(ci?.name == "ci")
            #expect(ci?.role == .operator)
            let ops = directory.authenticate(token: Self.opsToken)
            #expect(ops?.name == "ops")
            #expect(ops?.role == .admin)
            #expect(directory.authenticate(token: "") == nil)
            #expect(directory.authenticate(token: Self.ciToken + "x") == nil)
            #expect(directory.authenticate(token: String(Self.ciToken.dropLast())) == nil)
            #expect(directory.authenticate(token: ConsoleSecrets.tokenHash(Self.ciToken)) == nil)  // the hash is not the token
            // Passwords and tokens are separate.
            #expect(directory.authenticate(username: "ci", password: Self.ciToken) == nil)
        }

        @Test func emptyConfiguration() throws {
            #expect(try UserDirectory(users: nil, tokens: nil).isEmpty)
            #expect(try UserDirectory(users: "", tokens: " \n ; ;\n").isEmpty)
            let empty = try UserDirectory(users: nil, tokens: nil)
            #expect(empty.authenticate(username: "alice", password: "alice-pw") == nil)
            #expect(empty.authenticate(token: Self.ciToken) == nil)
            #expect(try !UserDirectory(users: "a:viewer:\(Self.aliceHash)", tokens: nil).isEmpty)
        }

        /// Each malformed entry is named by its line (and place on the line) and what is wrong,
        /// and no message holds a hash.
        @Test func malformedEntries() throws {
            let ok = "alice:admin:\(Self.aliceHash)"
            let aliceFields = Self.aliceHash.split(separator: "$").map(String.init)
            let tokenHash = ConsoleSecrets.tokenHash(Self.ciToken)
            struct Case {
                var users: String? = nil
                var tokens: String? = nil
                var variable: String
                var line: Int
                var entry: Int? = nil
                var problem: AuthConfigError.Problem
                var says: String
            }
            let cases = [
                Case(users: "\(ok)\nbob:superuser:\(Self.bobHash)", variable: "CONSOLE_USERS", line: 2, problem: .unknownRole, says: "unknown role"),
                Case(users: "\(ok)\n\n:viewer:\(Self.bobHash)", variable: "CONSOLE_USERS", line: 3, problem: .emptyName, says: "name is empty"),
                Case(users: "  :viewer:\(Self.bobHash)", variable: "CONSOLE_USERS", line: 1, problem: .emptyName, says: "name is empty"),
                Case(users: "\(ok)\nbob:viewer:pbkdf2-sha256$1000$bad", variable: "CONSOLE_USERS", line: 2, problem: .malformedHash, says: "malformed password hash"),
                Case(users: "\(ok)\nbob:viewer:", variable: "CONSOLE_USERS", line: 2, problem: .malformedHash, says: "malformed password hash"),
                Case(users: "bob:viewer:\(Self.bobHash.replacingOccurrences(of: "$1000$", with: "$0$"))", variable: "CONSOLE_USERS", line: 1,
                     problem: .malformedHash, says: "malformed password hash"),
                Case(users: "\(ok)\n\(ok.replacingOccurrences(of: "admin", with: "viewer"))", variable: "CONSOLE_USERS", line: 2,
                     problem: .duplicateName("alice", firstLine: 1), says: "duplicate name \"alice\" (first on line 1)"),
                Case(users: "\(ok);bob:viewer:\(Self.bobHash);alice:viewer:\(Self.bobHash)", variable: "CONSOLE_USERS", line: 1, entry: 3,
                     problem: .duplicateName("alice", firstLine: 1), says: "line 1, entry 3: duplicate name"),
                Case(users: "\(ok)\nbob:viewer", variable: "CONSOLE_USERS", line: 2, problem: .malformedEntry(fields: 2), says: "found 2"),
                Case(users: "\(ok)\nbob:viewer:extra:\(Self.bobHash)", variable: "CONSOLE_USERS", line: 2, problem: .malformedEntry(fields: 4),
                     says: "expected name:role:hash"),
                Case(users: "b\u{7}ob:viewer:\(Self.bobHash)", variable: "CONSOLE_USERS", line: 1, problem: .invalidName, says: "control character"),
                // Fields swapped: the hash in the role's place is not repeated.
                Case(users: "\(ok)\nbob:\(Self.bobHash):viewer", variable: "CONSOLE_USERS", line: 2, problem: .unknownRole, says: "unknown role"),
                // A password typed where the role goes is not repeated either.
                Case(users: "bob:hunter2:\(Self.bobHash)", variable: "CONSOLE_USERS", line: 1, problem: .unknownRole, says: "unknown role"),
                Case(tokens: "ci:admin:\(tokenHash)\nops:root:\(tokenHash.replacingOccurrences(of: "a", with: "b"))", variable: "CONSOLE_TOKENS",
                     line: 2, problem: .unknownRole, says: "unknown role"),
                Case(tokens: "ci:admin:\(tokenHash.dropLast())", variable: "CONSOLE_TOKENS", line: 1, problem: .malformedHash, says: "malformed token hash"),
                Case(tokens: "ci:admin:\(tokenHash.dropLast())g", variable: "CONSOLE_TOKENS", line: 1, problem: .malformedHash, says: "64 hexadecimal"),
                Case(tokens: "ci:admin:\(Self.ciToken)", variable: "CONSOLE_TOKENS", line: 1, problem: .malformedHash, says: "malformed token hash"),
                Case(tokens: "ci:admin:\(tokenHash)\n:admin:\(ConsoleSecrets.tokenHash("other"))", variable: "CONSOLE_TOKENS", line: 2,
                     problem: .emptyName, says: "name is empty"),
                Case(tokens: "ci:admin:\(tokenHash)\n\nci:viewer:\(ConsoleSecrets.tokenHash("other"))", variable: "CONSOLE_TOKENS", line: 3,
                     problem: .duplicateName("ci", firstLine: 1), says: "duplicate name \"ci\""),
                Case(tokens: "ci:admin:\(tokenHash)\nbot:viewer:\(tokenHash.uppercased())", variable: "CONSOLE_TOKENS", line: 2,
                     problem: .duplicateToken(firstLine: 1), says: "duplicate token"),
                Case(tokens: "ci:admin", variable: "CONSOLE_TOKENS", line: 1, problem: .malformedEntry(fields: 2), says: "name:role:sha256hex"),
                // Users valid, tokens not: the tokens' variable is named.
                Case(users: ok, tokens: "ci:admin:\(tokenHash);ci2:boss:\(tokenHash)", variable: "CONSOLE_TOKENS", line: 1, entry: 2,
                     problem: .unknownRole, says: "CONSOLE_TOKENS line 1, entry 2"),
            ]
            for c in cases {
                let error = try #require(Self.error(users: c.users, tokens: c.tokens), "\(c.users ?? "") \(c.tokens ?? "")")
                #expect(error.variable == c.variable)
                #expect(error.line == c.line)
                #expect(error.entry == c.entry)
                #expect(error.problem == c.problem)
                let message = error.description
                #expect(message.contains("\(c.variable) line \(c.line)"), "\(message)")
                #expect(message.contains(c.says), "\(message)")
                // No hash, nor any of its parts, nor a token, nor the role field.
                for secret in [Self.aliceHash, Self.bobHash, tokenHash, tokenHash.uppercased(), Self.ciToken, "hunter2", "superuser"]
                    + aliceFields.dropFirst() + Self.bobHash.split(separator: "$").dropFirst().map(String.init)
                {
                    #expect(!message.contains(secret), "\(message) contains \(secret)")
                }
            }
        }

        /// An unknown name costs about as much as a known one (a dummy hash is checked).
        @Test func unknownUserTakesComparableTime() throws {
            let hash = PasswordHash.make(password: "pw", iterations: 20_000)
            let directory = try UserDirectory(users: "known:viewer:\(hash)", tokens: nil)
            #expect(directory.dummy.iterations == 20_000)
            let clock = ContinuousClock()
            var known = Duration.seconds(1000)
            var unknown = Duration.seconds(1000)
            for _ in 0..<3 {
                let a = clock.now
                #expect(directory.authenticate(username: "known", password: "wrong") == nil)
                let b = clock.now
                #expect(directory.authenticate(username: "unknown", password: "wrong") == nil)
                let c = clock.now
                known = min(known, b - a)
                unknown = min(unknown, c - b)
            }
            #expect(unknown > known / 2, "known \(known), unknown \(unknown)")
            #expect(unknown < known * 2, "known \(known), unknown \(unknown)")
            // The dummy takes the slowest configured count.
            let mixed = try UserDirectory(
                users: "a:viewer:\(PasswordHash.make(password: "a", iterations: 10));b:viewer:\(PasswordHash.make(password: "b", iterations: 30))",
                tokens: nil)
            #expect(mixed.dummy.iterations == 30)
        }
    }

    // MARK: Sessions and CSRF

    @Suite struct Sessions {
        static let secret = Array("a server secret of thirty-two by".utf8)
        static let codec = SessionCodec(secret: secret)
        static let now = Date(timeIntervalSince1970: 1_780_000_000)

        @Test func issueAndOpen() throws {
            let cookie = Self.codec.issue(name: "alice", role: .operator, now: Self.now)
            let viewer = try #require(Self.codec.open(cookie, now: Self.now))
            #expect(viewer.name == "alice")
            #expect(viewer.role == .operator)
            #expect(viewer.csrf.count == 43)
            #expect(Base64.decode(Substring(viewer.csrf), url: true)?.count == 32)
            // Cookie-safe: base64url and one dot.
            #expect(cookie.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
            #expect(cookie.filter { $0 == "." }.count == 1)
            // The payload is JSON with the name, role, expiry and nonce.
            let payload = try #require(Base64.decode(cookie.split(separator: ".")[0], url: true))
            let json = try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
            #expect(json["n"] as? String == "alice")
            #expect(json["r"] as? String == "operator")
            let expiry = try #require(json["e"] as? NSNumber)
            #expect(expiry.int64Value == Int64(1_780_000_000 + 8 * 3600))
            #expect(Base64.decode(Substring(json["s"] as? String ?? ""), url: true)?.count == 16)
        }

        @Test func namesWithAnyCharacters() throws {
            for name in ["a.b", "o'brien \"the\" :admin:", "x|y;z", "ñandú ☃ 🔑", "{\"n\":\"admin\"}", "back\\slash", "  spaced  ", "csrf|x"] {
                for role in Role.allCases {
                    let viewer = try #require(Self.codec.open(Self.codec.issue(name: name, role: role, now: Self.now), now: Self.now))
                    #expect(viewer.name == name)
                    #expect(viewer.role == role)
                }
            }
        }

        @Test func expiry() {
            let cookie = Self.codec.issue(name: "alice", role: .viewer, now: Self.now, lifetime: 600)
            #expect(Self.codec.open(cookie, now: Self.now.addingTimeInterval(599)) != nil)
            #expect(Self.codec.open(cookie, now: Self.now.addingTimeInterval(599.9)) != nil)
            #expect(Self.codec.open(cookie, now: Self.now.addingTimeInterval(600)) == nil)
            #expect(Self.codec.open(cookie, now: Self.now.addingTimeInterval(86_400)) == nil)
            let day = Self.codec.issue(name: "alice", role: .viewer, now: Self.now)
            #expect(Self.codec.open(day, now: Self.now.addingTimeInterval(8 * 3600 - 1)) != nil)
            #expect(Self.codec.open(day, now: Self.now.addingTimeInterval(8 * 3600)) == nil)
        }

        @Test func garbageRejected() {
            let cookie = Self.codec.issue(name: "alice", role: .admin, now: Self.now)
            let parts = cookie.split(separator: ".").map(String.init)
            let garbage = [
                "", ".", "..", "alice", "alice.admin", "a.b", "\(parts[0])", "\(parts[0]).", ".\(parts[1])", "\(parts[1]).\(parts[0])",
                "\(cookie).", "\(cookie).\(parts[1])", "\(parts[0])..\(parts[1])", " \(cookie)", "\(cookie) ", "\(cookie)=",
                "\(parts[0])=.\(parts[1])", "\(parts[0]).\(parts[1].dropLast())", "\(parts[0]).\(parts[1])A",
                "\(parts[0].dropLast()).\(parts[1])", "\(parts[0].replacingOccurrences(of: "-", with: "+")).\(parts[1].replacingOccurrences(of: "_", with: "/"))",
                String(repeating: "A", count: 10_000) + "." + parts[1],
                "\(parts[0]).\(String(repeating: "A", count: 43))",
            ]
            for text in garbage where text != cookie {
                #expect(Self.codec.open(text, now: Self.now) == nil, "\(text)")
            }
            // The base64url translation is the one point where a "+" could slip in: it must not.
            #expect(Self.codec.open(cookie, now: Self.now) != nil)
        }

        /// Changing any one character, of the payload or of the MAC, to any other base64url
        /// character makes the cookie worthless.
        @Test func everyOneCharacterChangeRejected() {
            let cookie = Self.codec.issue(name: "alice", role: .viewer, now: Self.now)
            let characters = Array(cookie)
            let dot = characters.firstIndex(of: ".")!
            var tried = 0
            for index in characters.indices where index != dot {
                for replacement in ["A", "B", "a", "z", "0", "9", "-", "_", "+", "/", "="] as [Character] where replacement != characters[index] {
                    var altered = characters
                    altered[index] = replacement
                    #expect(Self.codec.open(String(altered), now: Self.now) == nil, "position \(index) → \(replacement)")
                    tried += 1
                }
            }
            #expect(tried > 1000)
            // Including the payload's last character and the MAC's last (whose low bits are unused).
            #expect(dot > 40)
        }

        /// A cookie whose payload was rewritten (another role, later expiry) keeps its old MAC,
        /// which no longer matches; with a MAC from another secret it fails too.
        @Test func forgeriesRejected() throws {
            let cookie = Self.codec.issue(name: "alice", role: .viewer, now: Self.now)
            let parts = cookie.split(separator: ".").map(String.init)
            let payload = String(decoding: try #require(Base64.decode(Substring(parts[0]), url: true)), as: UTF8.self)
            let promoted = payload.replacingOccurrences(of: "\"r\":\"viewer\"", with: "\"r\":\"admin\"")
            #expect(promoted != payload)
            #expect(Self.codec.open(Base64.encode(Array(promoted.utf8), url: true) + "." + parts[1], now: Self.now) == nil)

            let other = SessionCodec(secret: Array("another secret of thirty-two byt".utf8))
            let foreign = other.issue(name: "alice", role: .admin, now: Self.now)
            #expect(other.open(foreign, now: Self.now) != nil)
            #expect(Self.codec.open(foreign, now: Self.now) == nil)
            #expect(other.open(cookie, now: Self.now) == nil)
            // The foreign payload with a MAC of our own cookie.
            #expect(Self.codec.open(String(foreign.split(separator: ".")[0]) + "." + parts[1], now: Self.now) == nil)
            // A secret that is a prefix of ours is another secret.
            let prefix = SessionCodec(secret: Array(Self.secret.dropLast()))
            #expect(prefix.open(cookie, now: Self.now) == nil)
            // The session's CSRF token is no cookie.
            let viewer = try #require(Self.codec.open(cookie, now: Self.now))
            #expect(Self.codec.open(parts[0] + "." + viewer.csrf, now: Self.now) == nil)
        }

        /// A payload that is properly signed but not what `issue` makes is refused too.
        @Test func signedButInvalidPayloadsRejected() {
            func signed(_ json: String) -> String {
                let bytes = Array(json.utf8)
                return Base64.encode(bytes, url: true) + "." + Base64.encode(Self.codec.mac(bytes), url: true)
            }
            let nonce = Base64.encode(Array(repeating: 7, count: 16), url: true)
            let valid = #"{"e":1780003600,"n":"alice","r":"admin","s":"\#(nonce)","v":1}"#
            #expect(Self.codec.open(signed(valid), now: Self.now)?.role == .admin)
            for json in [
                #"{"e":1780003600,"n":"alice","r":"root","s":"\#(nonce)","v":1}"#,
                #"{"e":1780003600,"n":"","r":"admin","s":"\#(nonce)","v":1}"#,
                #"{"e":1780003600,"n":"al\u0000ice","r":"admin","s":"\#(nonce)","v":1}"#,
                #"{"e":1780003600,"n":"alice","r":"admin","s":"short","v":1}"#,
                #"{"e":1780003600,"n":"alice","r":"admin","v":1}"#,
                #"{"e":1780003600,"n":"alice","r":"admin","s":"\#(nonce)","v":2}"#,
                #"{"e":1779999999,"n":"alice","r":"admin","s":"\#(nonce)","v":1}"#,
                #"{"e":"never","n":"alice","r":"admin","s":"\#(nonce)","v":1}"#,
                "not json", "",
            ] {
                #expect(Self.codec.open(signed(json), now: Self.now) == nil, "\(json)")
            }
        }

        @Test func csrfBoundToSession() throws {
            let first = Self.codec.issue(name: "alice", role: .operator, now: Self.now)
            let second = Self.codec.issue(name: "alice", role: .operator, now: Self.now)
            #expect(first != second)  // another nonce
            let a1 = try #require(Self.codec.open(first, now: Self.now))
            let a2 = try #require(Self.codec.open(first, now: Self.now.addingTimeInterval(3600)))
            let b = try #require(Self.codec.open(second, now: Self.now))
            // Stable for one session, different across sessions.
            #expect(a1.csrf == a2.csrf)
            #expect(a1.csrf != b.csrf)
            #expect(Self.codec.checkCSRF(a1.csrf, for: a1))
            #expect(Self.codec.checkCSRF(b.csrf, for: b))
            #expect(!Self.codec.checkCSRF(b.csrf, for: a1))
            #expect(!Self.codec.checkCSRF(a1.csrf, for: b))
            #expect(!Self.codec.checkCSRF(nil, for: a1))
            #expect(!Self.codec.checkCSRF("", for: a1))
            #expect(!Self.codec.checkCSRF(String(a1.csrf.dropLast()), for: a1))
            #expect(!Self.codec.checkCSRF(a1.csrf + "A", for: a1))
            #expect(!Self.codec.checkCSRF("", for: Viewer(name: "alice", role: .admin, csrf: "")))
            // Bound to the nonce (and the secret) only: the same nonce gives the same token.
            let nonce = [UInt8](repeating: 42, count: 16)
            let x = try #require(Self.codec.open(Self.codec.issue(name: "x", role: .viewer, now: Self.now, lifetime: 60, nonce: nonce), now: Self.now))
            let y = try #require(Self.codec.open(Self.codec.issue(name: "y", role: .admin, now: Self.now, lifetime: 7200, nonce: nonce), now: Self.now))
            #expect(x.csrf == y.csrf)
            #expect(x.csrf == Self.codec.csrfToken(nonce: Base64.encode(nonce, url: true)))
            let other = SessionCodec(secret: Array("another secret of thirty-two byt".utf8))
            let z = try #require(other.open(other.issue(name: "x", role: .viewer, now: Self.now, lifetime: 60, nonce: nonce), now: Self.now))
            #expect(z.csrf != x.csrf)
        }
    }

    // MARK: Permissions and secrets

    @Test func permissionMatrix() {
        let expected: [Role: Set<Permission.Action>] = [
            .viewer: [.read],
            .operator: [.read, .sendCommands],
            .admin: [.read, .sendCommands, .replayDeadLetters],
        ]
        for role in Role.allCases {
            for action in Permission.Action.allCases {
                #expect(Permission.allows(role, action) == expected[role]!.contains(action), "\(role) \(action)")
            }
        }
        #expect(Permission.minimumRole(for: .read) == .viewer)
        #expect(Permission.minimumRole(for: .sendCommands) == .operator)
        #expect(Permission.minimumRole(for: .replayDeadLetters) == .admin)
    }

    @Test func secrets() throws {
        let token = ConsoleSecrets.randomToken()
        #expect(token.count == 43)
        #expect(token.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        #expect(Base64.decode(Substring(token), url: true)?.count == 32)
        #expect(ConsoleSecrets.randomToken() != token)
        #expect(ConsoleSecrets.randomToken(bytes: 1).count == 2)
        #expect(ConsoleSecrets.randomToken(bytes: 48).count == 64)
        #expect(ConsoleSecrets.randomBytes(count: 0).isEmpty)
        #expect(ConsoleSecrets.randomBytes(count: 13).count == 13)
        #expect(ConsoleSecrets.randomBytes(count: 32) != ConsoleSecrets.randomBytes(count: 32))

        #expect(ConsoleSecrets.tokenHash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(ConsoleSecrets.tokenHash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // What the setup script makes is what the directory accepts.
        let directory = try UserDirectory(users: nil, tokens: "deploy:admin:\(ConsoleSecrets.tokenHash(token))")
        #expect(directory.authenticate(token: token)?.name == "deploy")
    }

    @Test func base64AndHex() {
        for count in 0..<40 {
            let bytes = ConsoleSecrets.randomBytes(count: count)
            #expect(Base64.decode(Substring(Base64.encode(bytes, url: true)), url: true) == bytes)
            #expect(Base64.decode(Substring(Base64.encode(bytes, url: false)), url: false) == bytes)
            #expect(Hex.decode(Hex.encode(bytes)) == bytes)
        }
        #expect(Base64.encode([0xfb, 0xff], url: true) == "-_8")
        #expect(Base64.encode([0xfb, 0xff], url: false) == "+/8=")
        #expect(Base64.decode("-_8", url: false) == nil)
        #expect(Base64.decode("+/8=", url: true) == nil)
        #expect(Base64.decode("-_9", url: true) == nil)  // unused bits set
        #expect(Base64.decode("A", url: true) == nil)
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
        #expect(Hex.decode("ABcd") == [0xab, 0xcd])
    }
}
