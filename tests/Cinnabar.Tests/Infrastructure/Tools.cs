using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Cinnabar.Tests.Infrastructure;

/// <summary>Command-line tools (redis-cli, cinnabar) run to completion, bounded: their exit code and all they printed.</summary>
public static class Tools
{
    /// <summary>
    /// Runs <paramref name="exe"/>; <paramref name="stdin"/> is written then closed (null: closed at once, so a
    /// prompt reads EOF and only --cluster-yes proceeds). Killed after <paramref name="timeoutMs"/>. ANSI colours
    /// are stripped from the output.
    /// </summary>
    public static (int code, string output) Run(string exe, IEnumerable<string> args, string stdin = null, int timeoutMs = 120_000)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin != null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(timeoutMs)) p.Kill();
        p.WaitForExit();
        return (p.ExitCode, Regex.Replace(stdout.Result + stderr.Result, "\u001b\\[[0-9;]*m", ""));
    }
}
