using System.Text;
using Cinnabar.Tests.Infrastructure;

namespace Cinnabar.Tests.Differential;

/// <summary>One line of a corpus file: which connection, what bytes to send, whether to compare the reply.</summary>
public enum StepKind { Command, Send, Receive, WaitBlocked }

/// <summary>One line of a corpus file: which connection, what bytes to send, whether to compare the reply.</summary>
public sealed record CorpusStep(int Line, string Text, int Connection, bool Compare, bool Inline, byte[] Payload, string CommandName, StepKind Kind = StepKind.Command, int Count = 0);

/// <summary>
/// Reads the differential corpus (tests/differential/*.redis; the format is described in its README) and
/// plays a file against a server, returning each reply's raw bytes.
/// </summary>
public static class Corpus
{
    public static string Directory => Path.Combine(Env.RepoRoot, "tests", "differential");

    public static IEnumerable<string> Files() =>
        System.IO.Directory.GetFiles(Directory, "*.redis").OrderBy(f => f, StringComparer.Ordinal);

    public static List<CorpusStep> Parse(string path)
    {
        var steps = new List<CorpusStep>();
        var lines = File.ReadAllText(path, Encoding.UTF8).Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            string stripped = line.Trim();
            if (stripped.Length == 0 || stripped.StartsWith('#')) continue;
            string rest = line;
            int conn = 0;
            if (rest.Length >= 3 && rest[0] == '@' && char.IsAsciiDigit(rest[1]) && rest[2] == ' ')
            {
                conn = rest[1] - '0';
                rest = rest[3..];
            }
            bool compare = true;
            if (rest.StartsWith("!noreply-compare "))
            {
                compare = false;
                rest = rest["!noreply-compare ".Length..];
            }
            var kind = StepKind.Command;
            if (rest.Trim() == "!recv")
            {
                steps.Add(new CorpusStep(i + 1, line, conn, compare, false, Array.Empty<byte>(), "", StepKind.Receive));
                continue;
            }
            if (rest.StartsWith("!wait-blocked "))
            {
                steps.Add(new CorpusStep(i + 1, line, conn, false, false, Array.Empty<byte>(), "", StepKind.WaitBlocked, int.Parse(rest.Split(' ')[1])));
                continue;
            }
            if (rest.StartsWith("!send "))
            {
                kind = StepKind.Send;
                compare = false;
                rest = rest["!send ".Length..];
            }
            if (rest.StartsWith("!inline "))
            {
                var body = Encoding.UTF8.GetBytes(rest["!inline ".Length..] + "\r\n");
                steps.Add(new CorpusStep(i + 1, line, conn, compare, true, body, ""));
                continue;
            }
            if (rest.StartsWith('!') || rest.StartsWith('@')) throw new FormatException($"{path}:{i + 1}: unknown directive");
            var args = SplitArgs(rest) ?? throw new FormatException($"{path}:{i + 1}: unbalanced quotes");
            steps.Add(new CorpusStep(i + 1, line, conn, compare, false, RespConnection.Encode(args), Encoding.UTF8.GetString(args[0]).ToUpperInvariant(), kind));
        }
        return steps;
    }

    /// <summary>redis-cli's tokenizer (sdssplitargs) over the line's UTF-8 bytes.</summary>
    public static List<byte[]> SplitArgs(string line)
    {
        var b = Encoding.UTF8.GetBytes(line);
        var result = new List<byte[]>();
        int i = 0, n = b.Length;
        static bool Space(byte c) => c is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t' or 11 or 12;
        static bool Hex(int c) => c >= 0 && Uri.IsHexDigit((char)c);
        int At(int k) => k < n ? b[k] : -1;
        while (true)
        {
            while (i < n && Space(b[i])) i++;
            if (i >= n) return result;
            var cur = new List<byte>();
            bool inq = false, insq = false, done = false;
            while (!done)
            {
                int c = At(i);
                if (inq)
                {
                    if (c == '\\' && At(i + 1) == 'x' && Hex(At(i + 2)) && Hex(At(i + 3)))
                    {
                        cur.Add(Convert.ToByte(Encoding.ASCII.GetString(b, i + 2, 2), 16));
                        i += 3;
                    }
                    else if (c == '\\' && At(i + 1) >= 0)
                    {
                        i++;
                        cur.Add(b[i] switch { (byte)'n' => (byte)'\n', (byte)'r' => (byte)'\r', (byte)'t' => (byte)'\t', (byte)'b' => (byte)'\b', (byte)'a' => (byte)'\a', _ => b[i] });
                    }
                    else if (c == '"')
                    {
                        if (At(i + 1) >= 0 && !Space((byte)At(i + 1))) return null;
                        done = true;
                    }
                    else if (c < 0) return null;
                    else cur.Add((byte)c);
                }
                else if (insq)
                {
                    if (c == '\\' && At(i + 1) == '\'') { i++; cur.Add((byte)'\''); }
                    else if (c == '\'')
                    {
                        if (At(i + 1) >= 0 && !Space((byte)At(i + 1))) return null;
                        done = true;
                    }
                    else if (c < 0) return null;
                    else cur.Add((byte)c);
                }
                else
                {
                    if (c < 0 || c is ' ' or '\n' or '\r' or '\t') done = true;
                    else if (c == '"') inq = true;
                    else if (c == '\'') insq = true;
                    else cur.Add((byte)c);
                }
                if (i < n) i++;
            }
            result.Add(cur.ToArray());
        }
    }

    /// <summary>Runs a file on a server (after FLUSHALL and SELECT 0), one reply per step.</summary>
    public static List<byte[]> Run(int port, List<CorpusStep> steps)
    {
        using (var ctl = new RespConnection(port))
        {
            ctl.Call("FLUSHALL");
            ctl.Call("SELECT", "0");
        }
        var conns = new Dictionary<int, RespConnection>();
        var dead = new HashSet<int>();
        var replies = new List<byte[]>();
        try
        {
            foreach (var st in steps)
            {
                if (dead.Contains(st.Connection)) { replies.Add(Encoding.ASCII.GetBytes("<not sent>")); continue; }
                if (!conns.TryGetValue(st.Connection, out var c))
                {
                    c = new RespConnection(port);
                    c.Call("HELLO", "2");
                    conns[st.Connection] = c;
                }
                if (st.Kind == StepKind.WaitBlocked)
                {
                    bool reached = Env.WaitUntil(() =>
                    {
                        using var w = new RespConnection(port);
                        return w.Call("INFO", "clients").Contains($"blocked_clients:{st.Count}\r\n");
                    }, TimeSpan.FromSeconds(5), 5);
                    replies.Add(Encoding.ASCII.GetBytes(reached ? "<waited>" : "<blocked_clients never reached>"));
                    continue;
                }
                if (st.Kind == StepKind.Send)
                {
                    c.Send(st.Payload);
                    replies.Add(Encoding.ASCII.GetBytes("<sent>"));
                    continue;
                }
                byte[] reply;
                try
                {
                    if (st.Kind == StepKind.Command) c.Send(st.Payload);
                    reply = c.ReadReply();
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
                {
                    replies.Add(Encoding.ASCII.GetBytes("<closed: " + e.Message + ">"));
                    dead.Add(st.Connection);
                    continue;
                }
                bool closes = RespConnection.Latin1(reply).StartsWith("-ERR Protocol error") || st.CommandName == "QUIT";
                if (closes)
                {
                    bool closed = c.IsClosedByServer(TimeSpan.FromSeconds(5));
                    reply = reply.Concat(Encoding.ASCII.GetBytes(closed ? "<connection closed>" : "<connection left open>")).ToArray();
                    dead.Add(st.Connection);
                }
                replies.Add(reply);
            }
        }
        finally
        {
            foreach (var c in conns.Values) c.Dispose();
        }
        return replies;
    }
}
