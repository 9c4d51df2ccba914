import Contracts
import Foundation
import Logging
import PostgresNIO
import Runtime

/// SGC-PC-07 §4.8: the satisfaction survey's answer.
public enum SurveyRules {
    /// The answer on its own: a score from 1 to 5 and who recorded it.
    public static func validate(_ command: RecordSurveyAnswer) throws(Rejection) {
        var problems: [FieldProblem] = []
        if !(1...5).contains(command.score) {
            problems.append(FieldProblem(field: "data.score", problem: "must be from 1 to 5"))
        }
        if command.by.isBlank {
            problems.append(FieldProblem(field: "data.by", problem: "must not be empty"))
        }
        if !problems.isEmpty { throw Rejection.validation(problems) }
    }

    /// The survey must exist (`answeredAt` is nil when unknown) and not be answered yet.
    public static func check(surveyId: String, answeredAt: Date??) throws(Rejection) {
        guard let answeredAt else {
            throw .notFound("survey \(surveyId) does not exist", field: "data.surveyId", problem: "unknown survey")
        }
        if let at = answeredAt {
            throw Rejection(
                .alreadyDone, "survey \(surveyId) was answered at \(Wire.timestamp(at))",
                errors: [FieldProblem(field: "data.surveyId", problem: "already answered")])
        }
    }
}

/// Satisfaction surveys of a period, for the follow-up reports.
@JSONMembers
public struct SurveySummary: Sendable, Equatable, Codable {
    public var requested: Int
    public var answered: Int
    /// Mean score of the answered ones (nil when none).
    public var averageScore: Double?
    /// Answered ones per score, 1…5.
    public var byScore: [Int: Int]

    public init(scores: [Int?]) {
        requested = scores.count
        let answers = scores.compactMap { $0 }
        answered = answers.count
        averageScore = answers.isEmpty ? nil : Double(answers.reduce(0, +)) / Double(answers.count)
        byScore = Dictionary(grouping: answers, by: { $0 }).mapValues(\.count)
    }
}

/// The surveys requested in [from, to) with their answers; nil where the approval schema does not
/// exist (a database that runs other services only).
public func surveySummary(on conn: PostgresConnection, from: Date, to: Date, logger: Logger) async throws -> SurveySummary? {
    guard try await Database.exists("approval.surveys", on: conn, logger: logger) else { return nil }
    var scores: [Int?] = []
    for try await score in try await conn.query(
        "SELECT score FROM approval.surveys WHERE requested_at >= \(from) AND requested_at < \(to)", logger: logger
    ).decode(Int?.self) {
        scores.append(score)
    }
    return SurveySummary(scores: scores)
}
