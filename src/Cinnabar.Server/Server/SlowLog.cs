using Cinnabar.Server.Network;

namespace Cinnabar.Server;

/// <summary>SLOWLOG: the newest entries first, arguments trimmed as Redis trims them (32 args, 128 bytes each).</summary>
public sealed class SlowLog
{
    public sealed record Entry(long Id, long Time, long Duration, byte[][] Args, string Addr, string Name);

    public readonly LinkedList<Entry> Entries = new();
    long nextId;
    public int MaxLen = 128;

    public void Add(Client c, long usec)
    {
        int argc = Math.Min(c.ArgCount, 32);
        var args = new byte[argc][];
        for (int i = 0; i < argc; i++)
        {
            if (argc != c.ArgCount && i == argc - 1)
            {
                args[i] = System.Text.Encoding.ASCII.GetBytes($"... ({c.ArgCount - argc + 1} more arguments)");
                continue;
            }
            if (c.IsRedacted(i))
            {
                args[i] = "(redacted)"u8.ToArray();
                continue;
            }
            var a = c.Arg(i);
            if (a.Length > 128)
            {
                var trimmed = new List<byte>(a[..128].ToArray());
                trimmed.AddRange(System.Text.Encoding.ASCII.GetBytes($"... ({a.Length - 128} more bytes)"));
                args[i] = trimmed.ToArray();
            }
            else args[i] = a.ToArray();
        }
        Entries.AddFirst(new Entry(nextId++, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), usec, args, c.Addr, c.Name ?? ""));
        while (Entries.Count > MaxLen) Entries.RemoveLast();
    }

    public void Reset() => Entries.Clear();
}
