import MountOptions

#if canImport(Glibc)
import Glibc
#endif

/// Gathers the login from everything the user may have provided, and prompts as a last resort.
enum Credentials {
    struct Resolved {
        var user: String
        var password: String
        var warnings: [String]
    }

    static func resolve(url: ServerURL, configuration: MountConfiguration) throws(Preflight.Failure) -> Resolved {
        // Out of /proc/PID/environ at once, whether or not another source wins.
        let environment = EnvironmentScrubbing.take(LoginCredentials.passwordEnvironmentVariable)
        let netrc = try loadNetrc(configuration: configuration)
        var passwordFileContents: String?
        if let path = configuration.connection.passwordFile {
            do {
                passwordFileContents = try SecretFiles.loadPasswordFile(path: path)
            } catch {
                throw Preflight.Failure(status: .credentialsFile, message: error.description)
            }
        }
        let login = LoginCredentials.resolve(url: url, configuration: configuration, netrc: netrc,
                                             environmentPassword: environment,
                                             passwordFileContents: passwordFileContents)
        switch login.password {
        case .known(let password, _):
            return Resolved(user: login.user, password: password, warnings: login.warnings)
        case .needsPrompt:
            guard PasswordPrompt.isAvailable else {
                throw Preflight.Failure(
                    status: .loginFailed,
                    message: "no password for \(login.user)@\(url.host) and no terminal to ask for one: "
                        + "use ~/.netrc, -o passfile=FILE or \(LoginCredentials.passwordEnvironmentVariable)")
            }
            guard let password = PasswordPrompt.read(prompt: "Password for \(login.user)@\(url.host): ") else {
                throw Preflight.Failure(status: .loginFailed, message: "no password given")
            }
            return Resolved(user: login.user, password: password, warnings: login.warnings)
        }
    }

    /// ~/.netrc is read when it exists; with `-o netrc` or `netrc_file=` it must exist.
    private static func loadNetrc(configuration: MountConfiguration) throws(Preflight.Failure) -> Netrc? {
        let required = configuration.connection.useNetrc || configuration.connection.netrcFile != nil
        let home = getenv("HOME").map { String(cString: $0) }
        guard let path = configuration.connection.netrcFile ?? SecretFiles.defaultNetrcPath(home: home) else {
            if required { throw Preflight.Failure(status: .credentialsFile, message: "netrc: HOME is not set (use -o netrc_file=PATH)") }
            return nil
        }
        do {
            return try SecretFiles.loadNetrc(path: path)
        } catch {
            if error.isFileNotFound && !required { return nil }
            throw Preflight.Failure(status: .credentialsFile, message: error.description)
        }
    }
}
