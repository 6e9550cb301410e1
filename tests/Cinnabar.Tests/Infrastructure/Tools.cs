using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Cinnabar.Tests.Infrastructure;

/// <summary>Command-line tools (redis-cli, cinnabar, the servers' own checks) run to completion, bounded.</summary>
public static class Tools
{
    /// <summary>
    /// Runs <paramref name="exe"/>; <paramref name="stdin"/> is written then closed (null: closed at once, so a
    /// prompt reads EOF and only --cluster-yes proceeds). Past <paramref name="timeoutMs"/> the process is killed and
    /// <c>timedOut</c> is true.
    /// </summary>
    public static (int code, string stdout, string stderr, bool timedOut) Exec(string exe, IEnumerable<string> args, string stdin = null, int timeoutMs = 120_000)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin != null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        bool timedOut = !p.WaitForExit(timeoutMs);
        if (timedOut) p.Kill();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result, timedOut);
    }

    /// <summary>Exec with stdout and stderr together and ANSI colours stripped (a killed process just reports its code).</summary>
    public static (int code, string output) Run(string exe, IEnumerable<string> args, string stdin = null, int timeoutMs = 120_000)
    {
        var (code, stdout, stderr, _) = Exec(exe, args, stdin, timeoutMs);
        return (code, Regex.Replace(stdout + stderr, "\u001b\\[[0-9;]*m", ""));
    }
}
