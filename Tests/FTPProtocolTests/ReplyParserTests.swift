import Testing

@testable import FTPProtocol

@Suite struct ReplyParserTests {
    /// Feeds every line and returns the replies completed along the way.
    private func replies(_ lines: [String]) throws -> [Reply] {
        var parser = ReplyParser()
        var result: [Reply] = []
        for line in lines {
            if let reply = try parser.consume(line: line) { result.append(reply) }
        }
        #expect(!parser.isInsideMultilineReply)
        return result
    }

    @Test func singleLineReplies() throws {
        let result = try replies(["220 Welcome to the capture server.", "331 Please specify the password.", "226"])
        #expect(result.map(\.code) == [.serviceReady, .userNameOK, .closingDataConnection])
        #expect(result.map(\.text) == ["Welcome to the capture server.", "Please specify the password.", ""])
    }

    @Test func pureFTPdGreetingWhoseTextStartsWithHyphens() throws {
        let lines = [
            "220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------",
            "220-You are user number 1 of 50 allowed.",
            "220-Local time is now 16:37. Server port: 2124.",
            "220-This is a private system - No anonymous login",
            "220-IPv6 connections are also welcome on this server.",
            "220 You will be disconnected after 15 minutes of inactivity.",
        ]
        let result = try replies(lines)
        #expect(result.count == 1)
        #expect(result.first?.code == .serviceReady)
        #expect(result.first?.lines == lines)
        #expect(result.first?.text.hasPrefix("--------- Welcome to Pure-FTPd") == true)
    }

    @Test func continuationLinesThatLookLikeOtherCodesBelongToTheText() throws {
        let lines = [
            "220-Welcome",
            "200 OK is what you will see below",
            "220-still the greeting",
            "220-",
            "331 not the end either",
            "220 ready",
            "230 Login successful.",
        ]
        let result = try replies(lines)
        #expect(result.map(\.code) == [.serviceReady, .userLoggedIn])
        #expect(result[0].lines.count == 6)
        #expect(result[0].text == "Welcome\n200 OK is what you will see below\nstill the greeting\n\n331 not the end either\nready")
    }

    @Test func featRepliesFromRealServers() throws {
        // vsftpd 3.0.3
        let vsftpd = try replies(["211-Features:", " EPRT", " EPSV", " MDTM", " PASV", " REST STREAM", " SIZE", " TVFS", "211 End"])
        #expect(vsftpd.count == 1 && vsftpd[0].lines.count == 9)
        // Pure-FTPd ends a listing transfer with a two-line 226
        let transfer = try replies(["150 Accepted data connection", "226-Options: -a -l ", "226 26 matches total"])
        #expect(transfer.map(\.code) == [.fileStatusOK, .closingDataConnection])
        #expect(transfer[1].text == "Options: -a -l \n26 matches total")
    }

    @Test func statReplyCarriesListingLines() throws {
        // vsftpd's STAT: continuation lines are listing lines, not codes.
        let result = try replies([
            "213-Status follows:",
            "-rw-r--r--    1 0        0               3 Nov 21 16:36   leading spaces",
            "drwxr-xr-x    6 1002     0            4096 Nov 21 16:36 .",
            "213 End of status",
        ])
        #expect(result.count == 1)
        #expect(result[0].code == .fileStatus)
        #expect(result[0].lines.count == 4)
    }

    @Test func endLineNeedsTheSameCodeAndASpace() throws {
        var parser = ReplyParser()
        #expect(try parser.consume(line: "211-Features:") == nil)
        #expect(try parser.consume(line: "211-MDTM") == nil)
        #expect(try parser.consume(line: "212 End") == nil)
        #expect(try parser.consume(line: "2110 End") == nil)
        #expect(parser.isInsideMultilineReply)
        let reply = try #require(try parser.consume(line: "211 End"))
        #expect(reply.lines.count == 5)
        #expect(!parser.isInsideMultilineReply)
    }

    @Test(arguments: ["", "hello", "22 short", "2x0 bad", "099 too low", "600 too high", "220_odd separator", "-220 x"])
    func malformedFirstLinesThrow(_ line: String) {
        var parser = ReplyParser()
        #expect(throws: ProtocolError.malformedReply(line)) { try parser.consume(line: line) }
    }

    @Test func textKeepsOtherCodesAndNonASCII() {
        let reply = Reply(code: .serviceReady, lines: ["220-Grüße", "200 stays", "220 fin"])
        #expect(reply.text == "Grüße\n200 stays\nfin")
        #expect(reply.description == "220-Grüße\n200 stays\n220 fin")
    }

    @Test func replyCodeClasses() {
        #expect(ReplyCode.fileStatusOK.isPositivePreliminary)
        #expect(ReplyCode.commandOK.isPositiveCompletion)
        #expect(ReplyCode.userNameOK.isPositiveIntermediate)
        #expect(ReplyCode.serviceNotAvailable.isTransientNegative)
        #expect(ReplyCode.fileUnavailable.isPermanentNegative)
        #expect(ReplyCode(rawValue: 550) == .fileUnavailable)
        #expect(!ReplyCode(550).isTransientNegative)
    }

    @Test(arguments: [
        (["226-Output truncated to 10000 matches", "226 10000 matches total"], true),
        (["226 Transfer complete"], false),
        (["226 Too many files, listing limit reached"], true),
    ])
    func truncatedListings(lines: [String], truncated: Bool) {
        #expect(ListingCompletion.isTruncated(Reply(code: .closingDataConnection, lines: lines)) == truncated)
    }
}
