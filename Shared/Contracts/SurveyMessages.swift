import Foundation

/// `survey.record-answer`: the customer's answer to a satisfaction survey (SGC-PC-07 §4.8), as
/// recorded by the process and quality controller. Added to the contract after CONTRACT.md v1.
public struct RecordSurveyAnswer: Command {
    public static let type = "survey.record-answer"

    /// The survey (from `survey.requested`).
    public var surveyId: String
    /// Overall satisfaction, 1 (very unsatisfied) to 5 (very satisfied).
    public var score: Int
    /// Free text from the customer.
    public var comments: String?
    /// Who recorded the answer.
    public var by: String

    /// Creates the command.
    public init(surveyId: String, score: Int, comments: String? = nil, by: String) {
        self.surveyId = surveyId
        self.score = score
        self.comments = comments
        self.by = by
    }

    public static let schema: JSONSchema = .object(
        [
            "surveyId": .required(.identifier("the survey")),
            "score": .required(.integer(min: 1, max: 5, "satisfaction, 1 to 5")),
            "comments": .optional(.string("the customer's comments")),
            "by": .required(.identifier("who recorded the answer")),
        ], description: "record the answer to a satisfaction survey")

    public static let example = RecordSurveyAnswer(
        surveyId: "SV-2026-000412", score: 4, comments: "Buena atención, el informe llegó a tiempo", by: "angie.cruz")
}

/// `survey.answered`: a satisfaction survey was answered.
public struct SurveyAnswered: Event {
    public static let type = "survey.answered"

    /// The survey.
    public var surveyId: String
    /// Its work order.
    public var workOrderId: String
    /// Overall satisfaction, 1 to 5.
    public var score: Int
    /// Free text from the customer.
    public var comments: String?

    /// Creates the event.
    public init(surveyId: String, workOrderId: String, score: Int, comments: String? = nil) {
        self.surveyId = surveyId
        self.workOrderId = workOrderId
        self.score = score
        self.comments = comments
    }

    public var correlationKey: String? { workOrderId }

    public static let schema: JSONSchema = .object(
        [
            "surveyId": .required(.identifier("the survey")),
            "workOrderId": .required(.workOrderId),
            "score": .required(.integer(min: 1, max: 5, "satisfaction, 1 to 5")),
            "comments": .optional(.string("the customer's comments")),
        ], description: "a satisfaction survey was answered")

    public static let example = SurveyAnswered(
        surveyId: "SV-2026-000412", workOrderId: "8d0f6c2e-3b1a-4f5e-9c7d-2a1b0e9f4c33", score: 4,
        comments: "Buena atención, el informe llegó a tiempo")
}
