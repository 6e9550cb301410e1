using System.Diagnostics;
using Xunit;

namespace Cinnabar.Tests.Infrastructure;

/// <summary>
/// A tiny tmpfs (the tests run as root) filled up to a few kilobytes, to make a server's disk "full" for real,
/// and emptied again to let it recover.
/// </summary>
public sealed class SmallDisk : IDisposable
{
    public readonly string Path;
    readonly string filler;

    public SmallDisk(string size = "4m")
    {
        Path = Directory.CreateTempSubdirectory("cinnabar-smalldisk-").FullName;
        Run("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", Path);
        filler = System.IO.Path.Combine(Path, "filler");
    }

    /// <summary>Fills the disk, then frees <paramref name="leaveBytes"/> so a little more fits.</summary>
    public void Fill(long leaveBytes = 0)
    {
        using (var f = File.Create(filler))
        {
            var block = new byte[16 * 1024];
            try { while (true) { f.Write(block); f.Flush(); } } catch (IOException) { }
            if (leaveBytes > 0) f.SetLength(Math.Max(0, f.Length - leaveBytes));
        }
    }

    public void Free() => File.Delete(filler);

    public void Dispose()
    {
        Run("umount", "-l", Path);
        try { Directory.Delete(Path, true); } catch (IOException) { }
    }

    static void Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        Assert.True(p.WaitForExit(10_000), $"{file} did not finish");
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)}: {p.StandardError.ReadToEnd()}");
    }
}
