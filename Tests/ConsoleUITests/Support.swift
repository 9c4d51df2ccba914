import Foundation
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

@testable import ConsoleUI

// Helpers of the pages' tests: a small DOM built with Foundation's XMLParser (which also checks
// that what it reads is well-formed), and fixtures.

/// An element of a parsed fragment.
final class Element {
    let name: String
    let attributes: [String: String]
    /// What is inside, texts and elements, in document order.
    enum Part {
        case text(String)
        case element(Element)
    }
    var parts: [Part] = []
    var children: [Element] {
        parts.compactMap {
            if case .element(let e) = $0 { return e }
            return nil
        }
    }
    /// The text of the whole subtree, in document order.
    var text: String {
        parts.map {
            switch $0 {
            case .text(let t): t
            case .element(let e): e.text
            }
        }.joined()
    }

    init(name: String, attributes: [String: String]) {
        self.name = name
        self.attributes = attributes
    }

    subscript(_ attribute: String) -> String? { attributes[attribute] }

    /// The classes of the element.
    var classes: Set<String> { Set((attributes["class"] ?? "").split(separator: " ").map(String.init)) }

    /// Every descendant (and itself) in document order.
    var all: [Element] { [self] + children.flatMap(\.all) }

    /// The descendants called `name`, in document order.
    func all(_ name: String) -> [Element] { all.filter { $0.name == name } }

    /// The descendants called `name` having the class `cls`.
    func all(_ name: String, class cls: String) -> [Element] { all(name).filter { $0.classes.contains(cls) } }

    /// The first descendant with this id.
    func byID(_ id: String) -> Element? { all.first { $0["id"] == id } }
}

struct NotWellFormed: Error, CustomStringConvertible {
    var description: String
}

private final class Builder: NSObject, XMLParserDelegate {
    var stack: [Element] = []
    var root: Element?

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName qName: String?,
        attributes attributeDict: [String: String] = [:]
    ) {
        let e = Element(name: elementName, attributes: attributeDict)
        if let parent = stack.last { parent.parts.append(.element(e)) } else { root = e }
        stack.append(e)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        stack.removeLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        stack.last?.parts.append(.text(string))
    }
}

/// `xml` parsed: it must be a well-formed XML document (one root element).
func parseXML(_ xml: String) throws -> Element {
    let parser = XMLParser(data: Data(xml.utf8))
    let builder = Builder()
    parser.delegate = builder
    guard parser.parse(), let root = builder.root else {
        throw NotWellFormed(
            description: "not well-formed at line \(parser.lineNumber), column \(parser.columnNumber): \(parser.parserError.map { "\($0)" } ?? "no root")")
    }
    return root
}

/// A fragment (several elements) parsed inside a wrapper element.
func parseFragment(_ html: String) throws -> Element {
    try parseXML("<fragment>\(html)</fragment>")
}

/// A whole page parsed, less its doctype and the contents of its `<style>` and `<script>`
/// elements (CSS and JavaScript are not XML).
func parsePage(_ html: String) throws -> Element {
    var s = html
    #expect(s.hasPrefix("<!DOCTYPE html>\n"))
    s = String(s.dropFirst("<!DOCTYPE html>\n".count))
    for tag in ["style", "script"] {
        var out = ""
        var rest = Substring(s)
        while let open = rest.range(of: "<\(tag)>") {
            out += rest[..<open.upperBound]
            guard let close = rest.range(of: "</\(tag)>", range: open.upperBound..<rest.endIndex) else {
                throw NotWellFormed(description: "<\(tag)> not closed")
            }
            out += "</\(tag)>"
            rest = rest[close.upperBound...]
        }
        s = out + rest
    }
    return try parseXML(s)
}

/// How many times `needle` occurs in `haystack`.
func occurrences(of needle: String, in haystack: String) -> Int {
    haystack.components(separatedBy: needle).count - 1
}

/// The text between `<script>` and `</script>`, all scripts together.
func scripts(of html: String) -> String {
    html.components(separatedBy: "<script>").dropFirst().map { $0.components(separatedBy: "</script>")[0] }.joined(separator: "\n")
}

enum Fixture {
    /// 2026-11-22T14:03:11Z.
    static let now = Date(timeIntervalSince1970: 1_795_356_191)
    static let admin = Viewer(name: "Ana <Admin>", role: .admin, csrf: "csrf-token-123")
    static let viewer = Viewer(name: "Vic", role: .viewer, csrf: "csrf-viewer-9")
    static let op = Viewer(name: "Olga", role: .operator, csrf: "csrf-op-5")

    static func row(
        _ id: String, number: String? = nil, status: String = "assigned", customer: String? = "ACME", level: Int? = 2,
        deadlineIn: TimeInterval? = 3600, breaches: [String] = []
    ) -> BoardRow {
        BoardRow(
            workOrderId: id, number: number, status: status, kind: "repair", serviceLine: "fibre", country: "BO", customer: customer,
            level: level, deadline: deadlineIn.map { now.addingTimeInterval($0) }, deadlineWhat: deadlineIn == nil ? nil : "contact",
            breaches: breaches, assignee: "Tec 1", openedAt: now.addingTimeInterval(-86_400), updatedAt: now)
    }
}
