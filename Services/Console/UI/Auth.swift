import Crypto
import Foundation

// The console's sign-in and anti-forgery, as pure values: password hashes (PBKDF2-HMAC-SHA256),
// the users and API tokens of its configuration, stateless signed session cookies with a CSRF
// token bound to each session, and what each role may do. No I/O and no shared mutable state:
// the server reads the configuration and the cookies, and hands them here.

// MARK: - Password hashes

/// A password stored as PBKDF2-HMAC-SHA256 (RFC 8018), spelled
/// `pbkdf2-sha256$<iterations>$<salt base64>$<hash base64>` (standard base64 with padding).
///
/// The password's bytes are its UTF-8, as typed (no Unicode normalization), so a hash made by any
/// other PBKDF2-HMAC-SHA256 implementation from the same bytes verifies too.
public enum PasswordHash {
    /// The scheme's name, the encoding's first field.
    public static let scheme = "pbkdf2-sha256"
    public static let defaultIterations = 120_000
    /// The iteration counts `verify` accepts (more would let a planted hash stall the server).
    public static let iterationRange = 1...10_000_000
    /// The salt's length in bytes when `make` draws one.
    public static let saltLength = 16
    /// The lengths in bytes `verify` accepts for the salt and the stored hash.
    static let saltLengths = 1...1024
    static let hashLengths = 16...64

    /// The encoded hash of `password`: `iterations` rounds (1…10,000,000), a 32-byte hash, and a
    /// random 16-byte salt unless one is given (not empty).
    public static func make(password: String, iterations: Int = defaultIterations, salt: [UInt8]? = nil) -> String {
        precondition(iterationRange.contains(iterations), "PBKDF2 iterations must be in \(iterationRange)")
        let salt = salt ?? ConsoleSecrets.randomBytes(count: saltLength)
        precondition(!salt.isEmpty, "a PBKDF2 salt must not be empty")
        let hash = pbkdf2(password: Array(password.utf8), salt: salt, iterations: iterations, keyLength: SHA256.byteCount)
        return Encoded(iterations: iterations, salt: salt, hash: hash).description
    }

    /// Whether `password` is the one `encoded` was made from. False for any malformed encoding
    /// (wrong scheme or field count, iterations outside 1…10,000,000, non-canonical base64, an
    /// empty salt, a hash shorter than 16 or longer than 64 bytes). The hashes are compared in
    /// constant time.
    public static func verify(password: String, encoded: String) -> Bool {
        guard let parsed = Encoded(encoded) else { return false }
        return verify(password: password, parsed)
    }

    static func verify(password: String, _ encoded: Encoded) -> Bool {
        let derived = pbkdf2(
            password: Array(password.utf8), salt: encoded.salt, iterations: encoded.iterations, keyLength: encoded.hash.count)
        return ConstantTime.equal(derived, encoded.hash)
    }

    /// An encoded hash, parsed.
    struct Encoded: Sendable, Equatable, CustomStringConvertible {
        var iterations: Int
        var salt: [UInt8]
        var hash: [UInt8]

        init(iterations: Int, salt: [UInt8], hash: [UInt8]) {
            self.iterations = iterations
            self.salt = salt
            self.hash = hash
        }

        /// Parses the encoded form; nil unless every field is well formed and canonical.
        init?(_ text: String) {
            let fields = text.split(separator: "$", omittingEmptySubsequences: false)
            guard fields.count == 4, fields[0] == PasswordHash.scheme else { return nil }
            let digits = fields[1].utf8
            guard (1...8).contains(digits.count), digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                digits.first != UInt8(ascii: "0"), let iterations = Int(fields[1]), PasswordHash.iterationRange.contains(iterations)
            else { return nil }
            guard let salt = Base64.decode(fields[2], url: false), PasswordHash.saltLengths.contains(salt.count),
                let hash = Base64.decode(fields[3], url: false), PasswordHash.hashLengths.contains(hash.count)
            else { return nil }
            self.init(iterations: iterations, salt: salt, hash: hash)
        }

        var description: String {
            "\(PasswordHash.scheme)$\(iterations)$\(Base64.encode(salt, url: false))$\(Base64.encode(hash, url: false))"
        }
    }

    /// PBKDF2 (RFC 8018 §5.2) with HMAC-SHA256 as its pseudorandom function: `keyLength` bytes
    /// (at least 1) derived from `password` and `salt` in `iterations` rounds (at least 1).
    static func pbkdf2(password: [UInt8], salt: [UInt8], iterations: Int, keyLength: Int) -> [UInt8] {
        precondition(iterations >= 1 && keyLength >= 1)
        // The HMAC keyed with the password once; each round copies it (its state is copied on
        // write), so a long password costs nothing per round.
        let prf = HMAC<SHA256>(key: SymmetricKey(data: password))
        var derived: [UInt8] = []
        derived.reserveCapacity(keyLength)
        var blockIndex: UInt32 = 1
        while derived.count < keyLength {
            // U_1 = PRF(P, S || INT(i)); T_i = U_1 ^ U_2 ^ … ^ U_c, U_j = PRF(P, U_{j-1}).
            var first = prf
            first.update(data: salt)
            first.update(data: [UInt8(truncatingIfNeeded: blockIndex >> 24), UInt8(truncatingIfNeeded: blockIndex >> 16),
                                UInt8(truncatingIfNeeded: blockIndex >> 8), UInt8(truncatingIfNeeded: blockIndex)])
            var u = [UInt8](repeating: 0, count: SHA256.byteCount)
            first.finalize().withUnsafeBytes { code in
                for i in 0..<u.count { u[i] = code[i] }
            }
            var t = u
            var round = 1
            while round < iterations {
                var next = prf
                next.update(data: u)
                next.finalize().withUnsafeBytes { code in
                    for i in 0..<u.count {
                        u[i] = code[i]
                        t[i] ^= code[i]
                    }
                }
                round += 1
            }
            derived += t.prefix(keyLength - derived.count)
            blockIndex += 1
        }
        return derived
    }
}

// MARK: - Users and API tokens

/// Why the console's users or tokens could not be read from its configuration. Names the entry
/// (its line, and its place on the line when a line holds several) and what is wrong with it; it
/// never repeats a hash, nor the role field (a password written there by mistake stays out of the
/// logs).
public struct AuthConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Problem: Sendable, Equatable {
        /// Not three fields `name:role:hash`; how many there were.
        case malformedEntry(fields: Int)
        case emptyName
        /// The name holds a control character.
        case invalidName
        /// The role is none of `viewer`, `operator`, `admin`.
        case unknownRole
        /// A user's hash is not a well-formed `pbkdf2-sha256$…` hash, or a token's is not 64
        /// hexadecimal characters.
        case malformedHash
        /// The name was given to an earlier entry of the same variable.
        case duplicateName(String, firstLine: Int)
        /// The same token (hash) was configured on an earlier line, under another name.
        case duplicateToken(firstLine: Int)
    }

    /// `CONSOLE_USERS` or `CONSOLE_TOKENS`.
    public var variable: String
    /// The entry's line (from 1).
    public var line: Int
    /// The entry's place on its line (from 1), when the line holds several entries separated by `;`.
    public var entry: Int?
    public var problem: Problem

    public init(variable: String, line: Int, entry: Int?, problem: Problem) {
        self.variable = variable
        self.line = line
        self.entry = entry
        self.problem = problem
    }

    public var description: String {
        let place = "\(variable) line \(line)" + (entry.map { ", entry \($0)" } ?? "")
        let what: String
        switch problem {
        case .malformedEntry(let fields):
            what = "expected name:role:\(variable == UserDirectory.tokensVariable ? "sha256hex" : "hash") (3 fields separated by ':'), found \(fields)"
        case .emptyName: what = "the name is empty"
        case .invalidName: what = "the name contains a control character"
        case .unknownRole: what = "unknown role (expected viewer, operator or admin)"
        case .malformedHash:
            what = variable == UserDirectory.tokensVariable
                ? "malformed token hash (expected the token's SHA-256 as 64 hexadecimal characters)"
                : "malformed password hash (expected pbkdf2-sha256$<iterations>$<salt base64>$<hash base64>)"
        case .duplicateName(let name, let firstLine): what = "duplicate name \"\(name)\" (first on line \(firstLine))"
        case .duplicateToken(let firstLine): what = "duplicate token (the same token as on line \(firstLine))"
        }
        return "\(place): \(what)"
    }
}

/// The console's users (name, role, password hash) and API tokens (name, role, SHA-256 of the
/// token), from its configuration:
///
/// - `CONSOLE_USERS`: entries `name:role:pbkdf2-sha256$…` (see ``PasswordHash``);
/// - `CONSOLE_TOKENS`: entries `name:role:<SHA-256 of the token, hex>` (``ConsoleSecrets/tokenHash(_:)``),
///   so no token is in the configuration in the clear.
///
/// Entries are separated by newlines or `;`; blanks around fields and empty entries are ignored.
/// Roles are `viewer`, `operator`, `admin` (any case). A name is unique within each variable (a
/// user and a token may share one).
public struct UserDirectory: Sendable {
    public static let usersVariable = "CONSOLE_USERS"
    public static let tokensVariable = "CONSOLE_TOKENS"

    struct User: Sendable {
        var name: String
        var role: Role
        var hash: PasswordHash.Encoded
    }

    struct Token: Sendable {
        var name: String
        var role: Role
        var sha256: [UInt8]
    }

    let users: [String: User]
    let tokens: [Token]
    /// What an unknown user's password is checked against, so that the answer takes as long as for
    /// a known one: as many iterations as the slowest configured hash, a salt and hash no password
    /// gives (and the result is ignored anyway).
    let dummy: PasswordHash.Encoded

    public init(users: String?, tokens: String?) throws(AuthConfigError) {
        var parsedUsers: [String: User] = [:]
        var userLines: [String: Int] = [:]
        for entry in Self.entries(users ?? "") {
            let (name, role, hashField) = try Self.fields(entry, variable: Self.usersVariable)
            guard let hash = PasswordHash.Encoded(String(hashField)) else {
                throw entry.error(Self.usersVariable, .malformedHash)
            }
            if let first = userLines[name] { throw entry.error(Self.usersVariable, .duplicateName(name, firstLine: first)) }
            userLines[name] = entry.line
            parsedUsers[name] = User(name: name, role: role, hash: hash)
        }

        var parsedTokens: [Token] = []
        var tokenLines: [String: Int] = [:]
        var hashLines: [[UInt8]: Int] = [:]
        for entry in Self.entries(tokens ?? "") {
            let (name, role, hashField) = try Self.fields(entry, variable: Self.tokensVariable)
            guard let sha256 = Hex.decode(hashField), sha256.count == SHA256.byteCount else {
                throw entry.error(Self.tokensVariable, .malformedHash)
            }
            if let first = tokenLines[name] { throw entry.error(Self.tokensVariable, .duplicateName(name, firstLine: first)) }
            if let first = hashLines[sha256] { throw entry.error(Self.tokensVariable, .duplicateToken(firstLine: first)) }
            tokenLines[name] = entry.line
            hashLines[sha256] = entry.line
            parsedTokens.append(Token(name: name, role: role, sha256: sha256))
        }

        self.users = parsedUsers
        self.tokens = parsedTokens
        self.dummy = PasswordHash.Encoded(
            iterations: parsedUsers.values.map(\.hash.iterations).max() ?? PasswordHash.defaultIterations,
            salt: Array("console-dummy-salt".utf8), hash: [UInt8](repeating: 0, count: SHA256.byteCount))
    }

    /// No users and no tokens: nobody can sign in.
    public var isEmpty: Bool { users.isEmpty && tokens.isEmpty }
    public var userCount: Int { users.count }
    public var tokenCount: Int { tokens.count }

    /// The user `username` (exactly as configured) if `password` is theirs. An unknown name costs
    /// as much as a known one (a dummy hash is checked), so timing does not tell which names exist.
    public func authenticate(username: String, password: String) -> (name: String, role: Role)? {
        guard let user = users[username] else {
            if !users.isEmpty { _ = PasswordHash.verify(password: password, dummy) }
            return nil
        }
        guard PasswordHash.verify(password: password, user.hash) else { return nil }
        return (user.name, user.role)
    }

    /// The token's owner if `token` is one of the configured ones: its SHA-256 is compared in
    /// constant time with every configured hash.
    public func authenticate(token: String) -> (name: String, role: Role)? {
        guard !token.isEmpty else { return nil }
        let presented = Array(SHA256.hash(data: Array(token.utf8)))
        var found: Token?
        for candidate in tokens where ConstantTime.equal(presented, candidate.sha256) {
            found = found ?? candidate
        }
        return found.map { ($0.name, $0.role) }
    }

    // MARK: Parsing

    struct Entry {
        var text: Substring
        var line: Int
        /// Its place on the line, when the line holds more than one entry.
        var entry: Int?

        func error(_ variable: String, _ problem: AuthConfigError.Problem) -> AuthConfigError {
            AuthConfigError(variable: variable, line: line, entry: entry, problem: problem)
        }
    }

    /// The non-empty entries of a variable, trimmed, with their lines.
    static func entries(_ text: String) -> [Entry] {
        var result: [Entry] = []
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let parts = line.split(separator: ";", omittingEmptySubsequences: false).map(\.trimmed).filter { !$0.isEmpty }
            for (place, part) in parts.enumerated() {
                result.append(Entry(text: part, line: index + 1, entry: parts.count > 1 ? place + 1 : nil))
            }
        }
        return result
    }

    /// An entry's name and role, checked, and its hash field (not checked).
    static func fields(_ entry: Entry, variable: String) throws(AuthConfigError) -> (String, Role, Substring) {
        let fields = entry.text.split(separator: ":", omittingEmptySubsequences: false).map(\.trimmed)
        guard fields.count == 3 else { throw entry.error(variable, .malformedEntry(fields: fields.count)) }
        let name = String(fields[0])
        guard !name.isEmpty else { throw entry.error(variable, .emptyName) }
        guard !SessionCodec.hasControlCharacter(name) else { throw entry.error(variable, .invalidName) }
        guard let role = Role(rawValue: fields[1].lowercased()) else { throw entry.error(variable, .unknownRole) }
        return (name, role, fields[2])
    }
}

// MARK: - Sessions

/// Stateless signed session cookies: `base64url(payload) + "." + base64url(HMAC-SHA256(secret, payload))`,
/// the payload being JSON `{"e":<expiry, Unix seconds>,"n":<name>,"r":<role>,"s":<nonce>,"v":1}`
/// with a random 16-byte nonce (base64url) per session.
///
/// Each session's anti-forgery token is `base64url(HMAC-SHA256(secret, "csrf|" + nonce))`: bound to
/// the session, kept nowhere. (Payloads are JSON objects, starting with `{`, so no payload's MAC is
/// a CSRF token.) Changing the secret signs everyone out.
public struct SessionCodec: Sendable {
    public static let defaultLifetime: TimeInterval = 8 * 3600
    /// Longer cookies are refused without further work.
    public static let maximumCookieLength = 4096
    static let nonceLength = 16
    static let version = 1

    /// The secret's bytes (`SymmetricKey` is not `Sendable`; a key is made from them per use).
    let secret: [UInt8]

    /// `secret`: the server's key (at least 32 random bytes recommended; from configuration, or
    /// ``ConsoleSecrets/randomBytes(count:)`` at each start, which signs everyone out on restart).
    /// Must not be empty.
    public init(secret: [UInt8]) {
        precondition(!secret.isEmpty, "the session secret must not be empty")
        self.secret = secret
    }

    struct Payload: Codable, Equatable {
        /// Expiry, Unix seconds: the cookie is valid while `now` is before it.
        var e: Int64
        var n: String
        var r: Role
        /// The session's nonce, base64url.
        var s: String
        var v: Int
    }

    /// A new session's cookie value for `name` (not empty, without control characters — as
    /// ``UserDirectory`` ensures), valid for `lifetime` seconds (more than 0) from `now`.
    public func issue(name: String, role: Role, now: Date, lifetime: TimeInterval = defaultLifetime) -> String {
        issue(name: name, role: role, now: now, lifetime: lifetime, nonce: ConsoleSecrets.randomBytes(count: Self.nonceLength))
    }

    func issue(name: String, role: Role, now: Date, lifetime: TimeInterval, nonce: [UInt8]) -> String {
        precondition(!name.isEmpty && !Self.hasControlCharacter(name), "a session's name must be non-empty, without control characters")
        precondition(lifetime > 0 && lifetime.isFinite, "a session's lifetime must be positive")
        let expiry = (now.timeIntervalSince1970 + lifetime).rounded(.down)
        precondition(expiry.isFinite && abs(expiry) < 1e15, "a session's expiry must be a plausible date")
        let payload = Payload(e: Int64(expiry), n: name, r: role, s: Base64.encode(nonce, url: true), v: Self.version)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a struct of strings and integers cannot fail.
        let bytes = Array(try! encoder.encode(payload))
        return Base64.encode(bytes, url: true) + "." + Base64.encode(mac(bytes), url: true)
    }

    /// The session's viewer if `cookie` was issued with this secret, is unaltered, and has not
    /// expired by `now`; nil for anything else.
    public func open(_ cookie: String, now: Date) -> Viewer? {
        guard cookie.utf8.count <= Self.maximumCookieLength else { return nil }
        let parts = cookie.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let bytes = Base64.decode(parts[0], url: true), let code = Base64.decode(parts[1], url: true),
            code.count == SHA256.byteCount, ConstantTime.equal(mac(bytes), code)
        else { return nil }
        guard let payload = try? JSONDecoder().decode(Payload.self, from: Data(bytes)), payload.v == Self.version,
            Double(payload.e) > now.timeIntervalSince1970, !payload.n.isEmpty, !Self.hasControlCharacter(payload.n),
            let nonce = Base64.decode(Substring(payload.s), url: true), nonce.count == Self.nonceLength
        else { return nil }
        return Viewer(name: payload.n, role: payload.r, csrf: csrfToken(nonce: payload.s))
    }

    /// Whether `token` (a form's `_csrf`, a header) is `viewer`'s session's anti-forgery token;
    /// compared in constant time. False for nil or empty.
    public func checkCSRF(_ token: String?, for viewer: Viewer) -> Bool {
        guard let token, !token.isEmpty, !viewer.csrf.isEmpty else { return false }
        return ConstantTime.equal(Array(token.utf8), Array(viewer.csrf.utf8))
    }

    func csrfToken(nonce: String) -> String {
        Base64.encode(mac(Array(("csrf|" + nonce).utf8)), url: true)
    }

    func mac(_ bytes: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: bytes, using: SymmetricKey(data: secret)))
    }

    static func hasControlCharacter(_ text: some StringProtocol) -> Bool {
        text.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }
}

// MARK: - Permissions

/// What each role may do: viewers read; operators also send commands; admins also replay dead
/// letters.
public enum Permission {
    public enum Action: String, Sendable, CaseIterable {
        case read, sendCommands, replayDeadLetters
    }

    /// The least role that may do `action`.
    public static func minimumRole(for action: Action) -> Role {
        switch action {
        case .read: .viewer
        case .sendCommands: .operator
        case .replayDeadLetters: .admin
        }
    }

    public static func allows(_ role: Role, _ action: Action) -> Bool { role >= minimumRole(for: action) }
}

// MARK: - Secrets

/// Random secrets and token hashes, for the server and for the setup script that makes a token
/// and the hash to configure for it.
public enum ConsoleSecrets {
    /// `count` bytes from the system's secure random number generator.
    public static func randomBytes(count: Int) -> [UInt8] {
        precondition(count >= 0)
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 8)
        while bytes.count < count {
            let word = generator.next()
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return Array(bytes.prefix(count))
    }

    /// A new random API token: `bytes` random bytes (at least 1), base64url without padding
    /// (43 characters for 32 bytes).
    public static func randomToken(bytes: Int = 32) -> String {
        precondition(bytes >= 1)
        return Base64.encode(randomBytes(count: bytes), url: true)
    }

    /// The SHA-256 of the token's UTF-8, lowercase hexadecimal: what `CONSOLE_TOKENS` holds for it.
    public static func tokenHash(_ token: String) -> String {
        Hex.encode(Array(SHA256.hash(data: Array(token.utf8))))
    }
}

// MARK: - Helpers

enum ConstantTime {
    /// Whether `a` and `b` are equal, in time that depends on their lengths only (the lengths are
    /// not secret: hashes, MACs and tokens have fixed lengths).
    @inline(never)
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}

enum Base64 {
    /// Standard base64 with padding, or base64url without (RFC 4648 §5).
    static func encode(_ bytes: [UInt8], url: Bool) -> String {
        let standard = Data(bytes).base64EncodedString()
        guard url else { return standard }
        var out = ""
        out.reserveCapacity(standard.utf8.count)
        for scalar in standard.unicodeScalars {
            switch scalar {
            case "+": out.unicodeScalars.append("-")
            case "/": out.unicodeScalars.append("_")
            case "=": break
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// The bytes of `text` if it is canonical: only the alphabet's characters, padding exactly
    /// where the standard form needs it (none in the url form), unused bits zero. A text that
    /// decodes to the same bytes as another is refused, so a flipped character never passes.
    static func decode(_ text: Substring, url: Bool) -> [UInt8]? {
        var standard = ""
        standard.reserveCapacity(text.utf8.count + 2)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                standard.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "-") where url: standard.unicodeScalars.append("+")
            case UInt8(ascii: "_") where url: standard.unicodeScalars.append("/")
            case UInt8(ascii: "+") where !url, UInt8(ascii: "/") where !url, UInt8(ascii: "=") where !url:
                standard.unicodeScalars.append(Unicode.Scalar(byte))
            default: return nil
            }
        }
        if url {
            guard standard.utf8.count % 4 != 1 else { return nil }
            standard += String(repeating: "=", count: (4 - standard.utf8.count % 4) % 4)
        }
        guard let data = Data(base64Encoded: standard) else { return nil }
        let bytes = Array(data)
        guard encode(bytes, url: url) == text else { return nil }
        return bytes
    }
}

enum Hex {
    static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of an even-length hexadecimal text (either case); nil for anything else.
    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let high = value(utf8[i]), let low = value(utf8[i + 1]) else { return nil }
            bytes.append(high << 4 | low)
            i += 2
        }
        return bytes
    }
}

extension Substring {
    fileprivate var trimmed: Substring {
        var s = self
        while let first = s.first, first.isWhitespace { s.removeFirst() }
        while let last = s.last, last.isWhitespace { s.removeLast() }
        return s
    }
}
